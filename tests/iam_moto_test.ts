/**
 * Least privilege with moto's IAM enforcement: a moto_server of this test's own, started with
 * INITIAL_NO_AUTH_ACTION_COUNT so setup (buckets, IAM users, their policies from deploy/iam/,
 * access keys) runs unauthenticated; then `/moto-api/reset-auth 0` makes moto check every
 * request's SigV4 signature against the IAM user's secret and the user's policies. Each mode
 * runs as the real CLI with its own user's keys: it passes with its own policy, and an action or
 * resource outside it exits 4 with one line saying what was refused. `--mode catalog --compact`
 * runs on the lake the first consume step wrote (that step's group, so its committed offsets):
 * refused at the first delete without s3:DeleteObject, then complete with catalog.json.
 *
 * What moto 5.2.1 checks (found by experiment, written down in README "Least privilege"):
 * - S3: the action (HEAD → s3:GetObject, multipart → s3:PutObject, abort →
 *   s3:AbortMultipartUpload, list → s3:ListBucket, DELETE → s3:DeleteObject) against the bucket
 *   or object ARN.
 * - Glue and Athena: the action only, against Resource "*" (moto passes no ARN), so those
 *   statements are widened to "*" here; their ARNs are checked in tests/iam_policy_test.ts.
 * - No condition is evaluated (s3:prefix, kms:ViaService, aws:CalledVia), and S3 never calls
 *   KMS, so the kms: statements are not exercised.
 * - moto recomputes S3 signatures over a URL with percent escapes decoded, so a signed request
 *   for a lake key (`dt=…`, `+`) or a folder listing (`prefix=…%2F`) fails with
 *   SignatureDoesNotMatch before any policy is read. S3 therefore goes through
 *   tests/moto_signing_proxy.ts, which verifies the client's signature and re-signs it the way
 *   moto recomputes it (named for what it is; Glue and Athena talk to moto directly).
 */
import assert from "node:assert/strict";
import { startMoto } from "../scripts/local_moto.ts";
import { startSigningProxy } from "./moto_signing_proxy.ts";
import { configSchema } from "../src/config/schema.ts";
import {
  filledPolicy,
  glueAndAthenaOnStar,
  type Mode,
  placeholders,
  type PolicyDocument,
  withoutAction,
} from "./iam_policies.ts";
import { baseToml, cli, type CliResult, uniqueName, workspace } from "./helpers.ts";

const REGION = "us-east-1";
const ACCOUNT = "123456789012";

/** One moto_server with IAM enforcement switched on and off through its API. */
class EnforcingMoto {
  constructor(readonly endpoint: string) {}

  async #post(path: string, init: RequestInit): Promise<string> {
    const response = await fetch(`${this.endpoint}${path}`, { method: "POST", ...init });
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text}`);
    return text;
  }

  /** After `setup(false)` every request is authenticated and authorized; `true` opens it. */
  async setup(open: boolean): Promise<void> {
    await this.#post("/moto-api/reset-auth", { body: open ? "inf" : "0" });
  }

  /** An IAM query-API call, unsigned (only while setup is open; the scope routes it to IAM). */
  iam(params: Record<string, string>): Promise<string> {
    return this.#post("/", {
      headers: {
        Authorization:
          `AWS4-HMAC-SHA256 Credential=setup/20260101/${REGION}/iam/aws4_request, SignedHeaders=host, Signature=0`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ Version: "2010-05-08", ...params }),
    });
  }

  async bucket(name: string): Promise<void> {
    const response = await fetch(`${this.endpoint}/${name}`, { method: "PUT" });
    await response.body?.cancel();
    assert.ok(response.ok, `create bucket ${name}: HTTP ${response.status}`);
  }

  /** An IAM user with one inline policy, and its access key as AWS_* environment. */
  async user(name: string, policy: PolicyDocument): Promise<Record<string, string>> {
    await this.iam({ Action: "CreateUser", UserName: name });
    await this.iam({
      Action: "PutUserPolicy",
      UserName: name,
      PolicyName: `${name}-policy`,
      PolicyDocument: JSON.stringify(policy),
    });
    const key = await this.iam({ Action: "CreateAccessKey", UserName: name });
    return {
      AWS_ACCESS_KEY_ID: key.match(/<AccessKeyId>([^<]+)</)![1],
      AWS_SECRET_ACCESS_KEY: key.match(/<SecretAccessKey>([^<]+)</)![1],
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: "true",
    };
  }

  /** The rows the objects under `prefix` hold, summed from their `record-count` metadata. */
  async rows(bucket: string, prefix: string): Promise<number> {
    let rows = 0;
    for (const key of await this.keys(bucket, prefix)) {
      // Unsigned, but moto answers 403 to an S3 request with no Authorization header at all.
      const path = key.split("/").map(encodeURIComponent).join("/");
      const head = await fetch(`${this.endpoint}/${bucket}/${path}`, {
        method: "HEAD",
        headers: {
          Authorization:
            `AWS4-HMAC-SHA256 Credential=setup/20260101/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=0`,
        },
      });
      await head.body?.cancel();
      const count = head.headers.get("x-amz-meta-record-count");
      assert.ok(head.ok && count !== null, `${key}: HTTP ${head.status}, record-count ${count}`);
      rows += Number(count);
    }
    return rows;
  }

  async keys(bucket: string, prefix: string): Promise<string[]> {
    const listing = await (await fetch(
      `${this.endpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`,
    )).text();
    return [...listing.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
  }
}

/** One line on stderr, exit 4, matching `what`. */
function assertDenied(result: CliResult, what: RegExp): void {
  assert.equal(result.code, 4, `exit ${result.code}: ${result.stderr}`);
  const lines = result.stderr.trim().split("\n").filter((l) => /error/i.test(l));
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], what);
}

Deno.test("iam (moto enforcement): each mode runs with its deploy/iam policy alone, and an action or resource outside it exits 4 naming it", async (t) => {
  const moto = await startMoto(() => {}, { INITIAL_NO_AUTH_ACTION_COUNT: "1000000000" });
  const secrets = new Map<string, string>();
  const s3 = startSigningProxy(moto.endpoint, secrets);
  try {
    const enforcing = new EnforcingMoto(moto.endpoint);
    const lake = uniqueName("lake");
    const results = uniqueName("results");
    await enforcing.bucket(lake);
    await enforcing.bucket(results);

    const topic = uniqueName("iam");
    const toml = (group: string, prefix = "lake", partitions = "projection") =>
      baseToml(
        topic,
        group,
        `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[batch]
max_records = 50 # several small files per partition, for compaction
max_age_secs = 1
until_idle_secs = 1.5
`,
      ).replace(
        /\[store\]\npath = "\{lake\}"\n/,
        `[store]
type = "s3"
bucket = "${lake}"
prefix = "${prefix}"
region = "${REGION}"
endpoint = "${s3.url}"
force_path_style = true
max_attempts = 2

[catalog]
type = "glue"
database = "crypto"
partitions = "${partitions}"
region = "${REGION}"
endpoint = "${moto.endpoint}"

[query]
engine = "athena"
workgroup = "primary"
output_location = "s3://${results}/athena/"
region = "${REGION}"
endpoint = "${moto.endpoint}"
timeout_secs = 30
`,
      );
    // The group of the first consume run: compaction touches only offsets it has committed.
    const lakeGroup = uniqueName("group");
    const { config } = await workspace(toml(uniqueName("group")));
    const produced = await cli(["--mode", "produce", "--config", config, "--max-records", "400"]);
    assert.equal(produced.code, 0, produced.stderr);

    const values = placeholders(
      configSchema.parse({
        store: { type: "s3", bucket: lake, prefix: "lake" },
        catalog: { type: "glue", database: "crypto" },
        query: { engine: "athena", output_location: `s3://${results}/athena/` },
      }),
      { region: REGION, accountId: ACCOUNT },
    );
    const policy = async (mode: Mode) => glueAndAthenaOnStar(await filledPolicy(mode, values));
    const users: Record<string, Record<string, string>> = {};
    const addUser = async (name: string, document: PolicyDocument) => {
      await enforcing.setup(true);
      users[name] = await enforcing.user(name, document);
      secrets.set(users[name].AWS_ACCESS_KEY_ID, users[name].AWS_SECRET_ACCESS_KEY);
      await enforcing.setup(false);
    };
    await addUser("consume", await policy("consume"));
    await addUser("catalog", await policy("catalog"));
    await addUser("query", await policy("query"));
    await addUser("consume-no-get", withoutAction(await policy("consume"), "s3:GetObject"));
    await addUser("consume-no-put", withoutAction(await policy("consume"), "s3:PutObject"));
    await addUser(
      "catalog-no-create-table",
      withoutAction(await policy("catalog"), "glue:CreateTable"),
    );
    await addUser("catalog-no-list", withoutAction(await policy("catalog"), "s3:ListBucket"));
    await addUser("catalog-no-delete", withoutAction(await policy("catalog"), "s3:DeleteObject"));
    await addUser(
      "query-no-results",
      withoutAction(await policy("query"), "athena:GetQueryResults"),
    );

    const run = async (
      mode: string,
      user: string,
      prefix = "lake",
      extra: string[] = [],
      group = uniqueName("group"),
    ) => {
      const { config } = await workspace(toml(group, prefix));
      return await cli(["--mode", mode, "--config", config, ...extra], users[user]);
    };

    await t.step("consume writes the lake with consume.json", async () => {
      const result = await run("consume", "consume", "lake", ["--until-idle"], lakeGroup);
      assert.equal(result.code, 0, result.stderr);
      await enforcing.setup(true);
      const keys = await enforcing.keys(lake, "lake/ticker/");
      await enforcing.setup(false);
      assert.ok(keys.filter((k) => k.endsWith(".parquet")).length >= 2, keys.join(" "));
    });

    await t.step(
      "consume again from the start meets its own files: 412, then HEAD with s3:GetObject",
      async () => {
        const result = await run("consume", "consume", "lake", ["--until-idle"]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /file already in the lake/);
      },
    );

    await t.step("the same without s3:GetObject is denied at the HEAD, naming it", async () => {
      assertDenied(
        await run("consume", "consume-no-get", "lake", ["--until-idle"]),
        new RegExp(
          `Cannot read the metadata of s3://${lake}/lake/ticker/\\S+: access denied \\(HTTP 403, no error details in the response\\) \\(needs s3:GetObject on arn:aws:s3:::${lake}/lake/ticker/`,
        ),
      );
    });

    await t.step(
      "consume outside its prefix is denied, naming s3:PutObject and the object ARN",
      async () => {
        const result = await run("consume", "consume", "elsewhere", ["--until-idle"]);
        assertDenied(
          result,
          new RegExp(
            `Cannot write s3://${lake}/elsewhere/ticker/\\S+: AccessDenied: Access Denied \\(needs s3:PutObject on arn:aws:s3:::${lake}/elsewhere/ticker/`,
          ),
        );
      },
    );

    await t.step("consume without s3:PutObject in its policy is denied", async () => {
      assertDenied(
        await run("consume", "consume-no-put", "lake", ["--until-idle"]),
        /AccessDenied.*needs s3:PutObject/,
      );
    });

    await t.step("the catalog user's keys cannot write outside the lake prefix", async () => {
      // catalog.json writes lake files (compaction), under the lake prefix only.
      assertDenied(
        await run("consume", "catalog", "elsewhere", ["--until-idle"]),
        new RegExp(
          `Cannot write s3://${lake}/elsewhere/ticker/\\S+: AccessDenied: Access Denied \\(needs s3:PutObject on arn:aws:s3:::${lake}/elsewhere/ticker/`,
        ),
      );
    });

    await t.step("catalog registers the tables in Glue with catalog.json", async () => {
      const result = await run("catalog", "catalog");
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout + result.stderr, /crypto\.ticker/);
    });

    await t.step(
      "catalog registers partitions (S3 folder listing, BatchCreatePartition) with catalog.json",
      async () => {
        const { config } = await workspace(
          toml(uniqueName("group"), "lake", "register").replace(
            'database = "crypto"',
            'database = "crypto_registered"',
          ),
        );
        const result = await cli(["--mode", "catalog", "--config", config], users.catalog);
        assert.equal(result.code, 0, result.stderr);
        // The lake's one dt/hour folder of ticker, found by a delimiter listing and added.
        assert.match(
          result.stderr,
          /partitions of crypto_registered\.ticker registered .*found=1 created=1/,
        );
      },
    );

    await t.step(
      "catalog's folder listing without s3:ListBucket is denied, naming it",
      async () => {
        const { config } = await workspace(
          toml(uniqueName("group"), "lake", "register").replace(
            'database = "crypto"',
            'database = "crypto_unlisted"',
          ),
        );
        assertDenied(
          await cli(["--mode", "catalog", "--config", config], users["catalog-no-list"]),
          new RegExp(
            `Cannot list s3://${lake}/lake/(ticker|ticker_errors)/: AccessDenied: Access Denied \\(needs s3:ListBucket \\(s3:prefix lake/\\1/\\) on arn:aws:s3:::${lake}\\)`,
          ),
        );
      },
    );

    await t.step("catalog without glue:CreateTable is denied at the table", async () => {
      // A fresh database name, so the run gets as far as creating a table.
      const { config } = await workspace(
        toml(uniqueName("group")).replace('database = "crypto"', 'database = "crypto_two"'),
      );
      assertDenied(
        await cli(["--mode", "catalog", "--config", config], users["catalog-no-create-table"]),
        /Cannot register Glue table \S*ticker\S*: access denied/,
      );
    });

    await t.step("query runs in Athena with query.json", async () => {
      const result = await run("query", "query", "lake", ["--sql", "SELECT 1", "--format", "json"]);
      assert.equal(result.code, 0, result.stderr);
    });

    await t.step("query without athena:GetQueryResults is denied at the results", async () => {
      assertDenied(
        await run("query", "query-no-results", "lake", ["--sql", "SELECT 1"]),
        /Cannot read the results of Athena query \S+: access denied/,
      );
    });

    // Compaction of the lake the first consume step wrote, with that step's group; --before
    // tomorrow, so the hours written just now count as finished.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const compact = ["--compact", "--before", tomorrow];
    const lakeFiles = async () => {
      await enforcing.setup(true);
      try {
        const keys = await enforcing.keys(lake, "lake/");
        return { keys, rows: await enforcing.rows(lake, "lake/") };
      } finally {
        await enforcing.setup(false);
      }
    };
    const compacted = /\+\d+\+\d{20}-\d{20}\.parquet$/;
    const small = await lakeFiles();

    await t.step(
      "catalog --compact without s3:DeleteObject is denied at the first delete, naming it",
      async () => {
        assert.ok(small.keys.length >= 2 && small.keys.every((k) => !compacted.test(k)));
        assertDenied(
          await run("catalog", "catalog-no-delete", "lake", compact, lakeGroup),
          new RegExp(
            `Cannot delete s3://${lake}/lake/ticker\\S*/\\S+: AccessDenied: Access Denied \\(needs s3:DeleteObject on arn:aws:s3:::${lake}/lake/ticker`,
          ),
        );
        // The first compacted file was created (create-once), and nothing was deleted.
        const after = await lakeFiles();
        assert.deepEqual(after.keys.filter((k) => !compacted.test(k)), small.keys);
        assert.equal(after.keys.filter((k) => compacted.test(k)).length, 1, after.keys.join(" "));
      },
    );

    await t.step(
      "catalog --compact with catalog.json compacts the lake, finishing the refused run's deletes",
      async () => {
        const result = await run("catalog", "catalog", "lake", compact, lakeGroup);
        assert.equal(result.code, 0, result.stderr);
        console.log(`compaction under IAM enforcement: ${result.stdout.trim()}`);
        assert.match(result.stdout, /compacted [1-9]\d* \(hour, partition\) group\(s\)/);
        assert.match(result.stdout, /finished an interrupted earlier run: deleted [1-9]/);
        const after = await lakeFiles();
        // One file per (hour, Kafka partition), every one compacted, the same rows.
        const groups = new Set(small.keys.map((k) => k.replace(/\+\d+\.parquet$/, "")));
        assert.ok(after.keys.every((k) => compacted.test(k)), after.keys.join(" "));
        assert.equal(after.keys.length, groups.size, after.keys.join(" "));
        assert.ok(
          after.keys.length < small.keys.length,
          `${small.keys.length} → ${after.keys.length}`,
        );
        assert.equal(after.rows, small.rows);
      },
    );

    await t.step("a wrong secret key is refused by the signature check", async () => {
      const { config } = await workspace(toml(uniqueName("group")));
      const result = await cli(["--mode", "consume", "--config", config, "--until-idle"], {
        ...users.consume,
        AWS_SECRET_ACCESS_KEY: "not-the-secret",
      });
      assertDenied(result, /SignatureDoesNotMatch/);
    });
    assert.ok(s3.counts.resigned > 0, "S3 requests went through the signing proxy");
  } finally {
    await s3.close();
    await moto.stop();
  }
});
