/**
 * deploy/s3/lifecycle.json, the retention of an S3 lake: it expires exactly the configured
 * tables after the documented store.retention_days, aborts incomplete multipart uploads, and
 * S3 (moto_server) accepts it through PutBucketLifecycleConfiguration and returns the same
 * rules. The JSON is what `aws s3api put-bucket-lifecycle-configuration` takes; S3 speaks XML,
 * so the test turns it into XML the way the CLI does (a list `Rules` becomes `<Rule>`s).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { configSchema } from "../src/config/schema.ts";
import { freshBucket, REPO_ROOT, testS3Endpoint } from "./helpers.ts";

interface Rule {
  ID: string;
  Filter: { Prefix: string };
  Status: string;
  Expiration?: { Days?: number; ExpiredObjectDeleteMarker?: boolean };
  NoncurrentVersionExpiration?: { NoncurrentDays: number };
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
}

async function lifecycle(): Promise<{ Rules: Rule[] }> {
  return JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deploy/s3/lifecycle.json")));
}

/** The documented retention_days of cryptopipe.example.toml (a commented-out key). */
async function documentedRetentionDays(): Promise<number> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "cryptopipe.example.toml"));
  const line = /^# (retention_days = \d+)/m.exec(text);
  assert.ok(line, "cryptopipe.example.toml documents store.retention_days");
  return (parseToml(line[1]) as { retention_days: number }).retention_days;
}

function xmlOf(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => xmlOf(name, v)).join("");
  if (typeof value === "object" && value !== null) {
    return `<${name}>${
      Object.entries(value).map(([k, v]) => xmlOf(k === "Rules" ? "Rule" : k, v)).join("")
    }</${name}>`;
  }
  return `<${name}>${String(value)}</${name}>`;
}

Deno.test("reprocess: deploy/s3/lifecycle.json expires the configured tables after retention_days and aborts incomplete uploads", async () => {
  const { Rules } = await lifecycle();
  const defaults = configSchema.parse({}).store;
  const days = await documentedRetentionDays();
  for (const table of [defaults.table, defaults.errors_table]) {
    const rule = Rules.find((r) => r.Filter.Prefix === `${table}/`);
    assert.ok(rule, `a rule for the table ${table}`);
    assert.equal(rule.Status, "Enabled");
    assert.equal(rule.Expiration?.Days, days, `${table}: expires after store.retention_days`);
    assert.ok((rule.NoncurrentVersionExpiration?.NoncurrentDays ?? 0) > 0, "old versions expire");
  }
  const abort = Rules.find((r) => r.AbortIncompleteMultipartUpload);
  assert.ok(abort, "an AbortIncompleteMultipartUpload rule");
  assert.equal(abort.Filter.Prefix, "", "over the whole bucket");
  assert.ok(abort.AbortIncompleteMultipartUpload!.DaysAfterInitiation >= 1);
  // Nothing else is expired: the catalog and other prefixes are not the lake's tables.
  assert.deepEqual(
    Rules.filter((r) => r.Expiration?.Days !== undefined).map((r) => r.Filter.Prefix).sort(),
    [`${defaults.errors_table}/`, `${defaults.table}/`].sort(),
  );
});

Deno.test("reprocess: S3 (moto_server) accepts deploy/s3/lifecycle.json and returns its rules", async () => {
  const bucket = await freshBucket();
  const body = `<?xml version="1.0" encoding="UTF-8"?>${
    xmlOf("LifecycleConfiguration", await lifecycle())
  }`.replace(
    "<LifecycleConfiguration>",
    '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
  );
  // moto does not check signatures (as in freshBucket); S3 requires Content-MD5 here.
  const put = await fetch(`${testS3Endpoint()}/${bucket}?lifecycle`, {
    method: "PUT",
    headers: {
      "content-type": "application/xml",
      "content-md5": createHash("md5").update(body).digest("base64"),
    },
    body,
  });
  const putText = await put.text();
  assert.equal(put.status, 200, putText);
  const got = await fetch(`${testS3Endpoint()}/${bucket}?lifecycle`);
  const xml = await got.text();
  assert.equal(got.status, 200, xml);
  const { Rules } = await lifecycle();
  for (const rule of Rules) {
    const block = new RegExp(
      `<Rule>(?:(?!</Rule>).)*<ID>${rule.ID}</ID>(?:(?!</Rule>).)*</Rule>`,
      "s",
    )
      .exec(xml)?.[0];
    assert.ok(block, `rule ${rule.ID} is in the bucket's configuration:\n${xml}`);
    if (rule.Expiration?.Days) {
      assert.match(block, new RegExp(`<Days>${rule.Expiration.Days}</Days>`));
    }
    if (rule.AbortIncompleteMultipartUpload) {
      assert.match(
        block,
        new RegExp(
          `<DaysAfterInitiation>${rule.AbortIncompleteMultipartUpload.DaysAfterInitiation}</DaysAfterInitiation>`,
        ),
      );
    }
    if (rule.NoncurrentVersionExpiration) {
      assert.match(
        block,
        new RegExp(
          `<NoncurrentDays>${rule.NoncurrentVersionExpiration.NoncurrentDays}</NoncurrentDays>`,
        ),
      );
    }
  }
});
