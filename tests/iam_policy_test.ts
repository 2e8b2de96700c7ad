/**
 * The IAM policies in deploy/iam/ against the code: every AWS SDK command a mode's backend
 * sends must be allowed by that mode's policy, and no policy may grant deletes, except
 * catalog's s3:DeleteObject on the lake prefix (compaction replaces small files): a static check
 * of the two texts, so a new SDK call without its permission fails here. The policies are run
 * for real under moto's IAM enforcement in tests/iam_moto_test.ts; the Glue and Athena ARNs,
 * which moto does not check, are checked against a config below.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { configSchema } from "../src/config/schema.ts";
import { allows, filledPolicy, placeholders } from "./iam_policies.ts";

const ROOT = join(import.meta.dirname!, "..");

/** SDK command (or lib-storage class) → the IAM actions it needs. */
const ACTIONS: Record<string, string[]> = {
  PutObjectCommand: ["s3:PutObject"],
  GetObjectCommand: ["s3:GetObject"],
  HeadObjectCommand: ["s3:GetObject"],
  ListObjectsV2Command: ["s3:ListBucket"],
  DeleteObjectCommand: ["s3:DeleteObject"],
  // lib-storage: CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload.
  Upload: ["s3:PutObject", "s3:AbortMultipartUpload"],
  CreateDatabaseCommand: ["glue:CreateDatabase"],
  GetTableCommand: ["glue:GetTable"],
  GetTablesCommand: ["glue:GetTables"],
  CreateTableCommand: ["glue:CreateTable"],
  UpdateTableCommand: ["glue:UpdateTable"],
  BatchCreatePartitionCommand: ["glue:BatchCreatePartition"],
  StartQueryExecutionCommand: ["athena:StartQueryExecution"],
  GetQueryExecutionCommand: ["athena:GetQueryExecution"],
  GetQueryResultsCommand: ["athena:GetQueryResults"],
  StopQueryExecutionCommand: ["athena:StopQueryExecution"],
};

/**
 * Which backend files each mode's policy covers. catalog uses the whole S3 store: the folder
 * listing (partitions = "register") and, for --compact, read, create-once and delete.
 */
const MODES: Record<string, { policy: string; files: string[]; only?: RegExp }> = {
  // Deleting is compaction's (catalog mode) alone.
  consume: { policy: "consume.json", files: ["src/store/s3.ts"], only: /^(?!DeleteObject)/ },
  catalog: {
    policy: "catalog.json",
    files: ["src/catalog/glue.ts", "src/store/s3.ts"],
  },
  query: { policy: "query.json", files: ["src/query/athena.ts"] },
};

interface Statement {
  Effect: string;
  Action: string | string[];
}

async function allowed(policy: string): Promise<Set<string>> {
  const text = await Deno.readTextFile(join(ROOT, "deploy", "iam", policy));
  const document = JSON.parse(text) as { Version: string; Statement: Statement[] };
  assert.equal(document.Version, "2012-10-17");
  return new Set(
    document.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => [s.Action].flat()),
  );
}

async function commandsUsed(file: string): Promise<string[]> {
  const source = await Deno.readTextFile(join(ROOT, file));
  return [...new Set([...source.matchAll(/new (\w+(?:Command)|Upload)\(/g)].map((m) => m[1]))];
}

for (const [mode, { policy, files, only }] of Object.entries(MODES)) {
  Deno.test(`iam: deploy/iam/${policy} allows every AWS call ${mode} makes`, async () => {
    const granted = await allowed(policy);
    let checked = 0;
    for (const file of files) {
      for (const command of await commandsUsed(file)) {
        if (only && !only.test(command)) continue;
        const needed = ACTIONS[command];
        assert.ok(needed, `${file} sends ${command}: add its IAM actions to this test's table`);
        for (const action of needed) {
          assert.ok(granted.has(action), `${policy} lacks ${action} (for ${command} in ${file})`);
        }
        checked++;
      }
    }
    assert.ok(checked > 0, `found no AWS calls in ${files.join(", ")}`);
  });
}

Deno.test("iam: no policy grants deletes or wildcards, but catalog's object deletes on the lake prefix", async () => {
  for (const { policy } of Object.values(MODES)) {
    for (const action of await allowed(policy)) {
      if (policy === "catalog.json" && action === "s3:DeleteObject") continue;
      assert.doesNotMatch(action, /Delete|\*/, `${policy} grants ${action}`);
    }
  }
  // The one delete: objects under the lake prefix only, never the bucket or a Glue entity.
  const text = await Deno.readTextFile(join(ROOT, "deploy", "iam", "catalog.json"));
  const deleting = (JSON.parse(text).Statement as Array<Statement & { Resource: unknown }>)
    .filter((s) => [s.Action].flat().some((a) => /Delete/.test(a)));
  assert.equal(deleting.length, 1);
  assert.deepEqual([deleting[0].Action].flat().filter((a) => /Delete/.test(a)), [
    "s3:DeleteObject",
  ]);
  assert.equal(deleting[0].Resource, "arn:aws:s3:::${LakeBucket}/${LakePrefix}*");
});

const LAKE_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const RESULTS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/99999999-12ab-34cd-56ef-1234567890ab";

/**
 * moto checks Glue and Athena actions only against Resource "*", so their ARNs are checked here:
 * the policies filled from a config grant the database, tables and workgroup that config names,
 * and nothing of another database, workgroup, bucket or key.
 */
Deno.test("iam: the ARNs in deploy/iam grant the config's Glue database and tables, Athena workgroup, lake and results prefixes and KMS keys, and nothing else", async () => {
  const config = configSchema.parse({
    store: { type: "s3", bucket: "my-lake", prefix: "crypto/lake" },
    catalog: { type: "glue", database: "crypto" },
    query: {
      engine: "athena",
      workgroup: "cryptopipe",
      output_location: "s3://my-results/cryptopipe/",
    },
  });
  const values = placeholders(config, {
    region: "eu-west-1",
    accountId: "111122223333",
    lakeKmsKeyArn: LAKE_KEY,
    resultsKmsKeyArn: RESULTS_KEY,
  });
  const [consume, catalog, query] = await Promise.all(
    (["consume", "catalog", "query"] as const).map((mode) => filledPolicy(mode, values)),
  );
  const glue = (resource: string) => `arn:aws:glue:eu-west-1:111122223333:${resource}`;
  const database = [glue("catalog"), glue("database/crypto")];
  const tables = [config.store.table, config.store.errors_table].map((t) =>
    glue(`table/crypto/${t}`)
  );

  // Glue: database actions need the catalog and database ARNs, table actions the table's too.
  for (const action of ["glue:CreateDatabase", "glue:GetDatabase"]) {
    for (const arn of database) assert.ok(allows(catalog, action, arn), `${action} ${arn}`);
  }
  for (
    const action of [
      "glue:GetTable",
      "glue:GetTables",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:BatchCreatePartition",
    ]
  ) {
    for (const arn of [...database, ...tables]) {
      assert.ok(allows(catalog, action, arn), `${action} ${arn}`);
    }
  }
  for (const action of ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"]) {
    for (const arn of [...database, ...tables]) {
      assert.ok(allows(query, action, arn), `${action} ${arn}`);
    }
  }
  for (const policy of [catalog, query]) {
    assert.ok(!allows(policy, "glue:GetTable", glue("table/other/ticker")));
    assert.ok(!allows(policy, "glue:GetDatabase", glue("database/other")));
    assert.ok(
      !allows(policy, "glue:GetTable", glue("table/crypto/x").replace("eu-west-1", "us-east-1")),
    );
  }
  assert.ok(!allows(catalog, "glue:DeleteTable", tables[0]));

  // Athena: the configured workgroup only.
  const workgroup = "arn:aws:athena:eu-west-1:111122223333:workgroup/cryptopipe";
  for (
    const action of [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:StopQueryExecution",
    ]
  ) {
    assert.ok(allows(query, action, workgroup), action);
    assert.ok(!allows(query, action, workgroup.replace("cryptopipe", "primary")), action);
  }

  // S3: consume writes under the lake prefix only; query reads it and writes results only.
  const file =
    "arn:aws:s3:::my-lake/crypto/lake/ticker/dt=2026-11-25/hour=07/t+0+00000000000000000042.parquet";
  assert.ok(allows(consume, "s3:PutObject", file));
  assert.ok(allows(consume, "s3:AbortMultipartUpload", file));
  assert.ok(allows(consume, "s3:ListBucket", "arn:aws:s3:::my-lake"));
  assert.ok(!allows(consume, "s3:PutObject", "arn:aws:s3:::my-lake/other/x.parquet"));
  assert.ok(!allows(consume, "s3:PutObject", "arn:aws:s3:::other-lake/crypto/lake/x.parquet"));
  assert.ok(!allows(consume, "s3:DeleteObject", file));
  assert.ok(allows(query, "s3:GetObject", file));
  assert.ok(!allows(query, "s3:PutObject", file));
  assert.ok(allows(query, "s3:PutObject", "arn:aws:s3:::my-results/cryptopipe/q.csv"));
  assert.ok(!allows(query, "s3:PutObject", "arn:aws:s3:::my-results/other/q.csv"));
  assert.ok(!allows(catalog, "s3:PutObject", file));
  assert.ok(!allows(catalog, "s3:GetObject", file));

  // KMS: each role on its own keys (the statements matter only with SSE-KMS).
  assert.ok(allows(consume, "kms:GenerateDataKey", LAKE_KEY));
  assert.ok(allows(consume, "kms:Decrypt", LAKE_KEY));
  assert.ok(!allows(consume, "kms:GenerateDataKey", RESULTS_KEY));
  assert.ok(allows(query, "kms:Decrypt", LAKE_KEY));
  assert.ok(allows(query, "kms:GenerateDataKey", RESULTS_KEY));
  assert.ok(!allows(catalog, "kms:Decrypt", LAKE_KEY));
});

/** moto evaluates no condition, so the README must name each one as not verified. */
Deno.test("iam: every condition key in deploy/iam is listed in the README as not verified by moto", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const start = readme.indexOf("### Least privilege");
  assert.ok(start >= 0, 'README has a "### Least privilege" section');
  const end = readme.indexOf("\n## ", start);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const keys = new Set<string>();
  for (const policy of Object.values(MODES).map((m) => m.policy)) {
    const document = JSON.parse(await Deno.readTextFile(join(ROOT, "deploy", "iam", policy)));
    for (const statement of document.Statement) {
      for (const operator of Object.values(statement.Condition ?? {})) {
        for (const key of Object.keys(operator as object)) keys.add(key);
      }
    }
  }
  assert.ok(keys.size > 0);
  for (const key of keys) assert.ok(section.includes(`\`${key}\``), `README names ${key}`);
});
