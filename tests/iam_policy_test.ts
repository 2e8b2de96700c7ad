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

Deno.test("iam: no policy grants deletes or wildcards, and catalog reads, writes and deletes objects only in its compaction statement, on the lake prefix", async () => {
  for (const { policy } of Object.values(MODES)) {
    for (const action of await allowed(policy)) {
      if (policy === "catalog.json" && action === "s3:DeleteObject") continue;
      assert.doesNotMatch(action, /Delete|\*/, `${policy} grants ${action}`);
    }
  }
  // The one delete, and catalog's only object reads and writes: one statement, on objects under
  // the lake prefix, never the bucket, another prefix or a Glue entity.
  const text = await Deno.readTextFile(join(ROOT, "deploy", "iam", "catalog.json"));
  const statements = JSON.parse(text).Statement as Array<
    Statement & { Sid: string; Resource: unknown }
  >;
  const objectActions = /^s3:(GetObject|PutObject|DeleteObject|AbortMultipartUpload)$/;
  const touching = statements.filter((s) => [s.Action].flat().some((a) => objectActions.test(a)));
  assert.deepEqual(touching.map((s) => s.Sid), ["RewriteLakeFilesOnlyWithCompact"]);
  assert.deepEqual([touching[0].Action].flat().sort(), [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:PutObject",
  ]);
  assert.equal(touching[0].Resource, "arn:aws:s3:::${LakeBucket}/${LakePrefix}*");
  const deleting = statements.filter((s) => [s.Action].flat().some((a) => /Delete/.test(a)));
  assert.deepEqual(deleting, touching);
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
  // catalog (--compact) reads, writes and deletes lake files, and nothing outside the lake prefix.
  const elsewhere = [
    "arn:aws:s3:::my-lake/other/ticker/x.parquet",
    "arn:aws:s3:::my-lake/crypto/lakehouse/x.parquet", // the prefix ends with its "/"
    "arn:aws:s3:::other-lake/crypto/lake/ticker/x.parquet",
    "arn:aws:s3:::my-results/cryptopipe/q.csv",
    "arn:aws:s3:::my-lake",
  ];
  for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) {
    assert.ok(allows(catalog, action, file), `catalog ${action} ${file}`);
    for (const arn of elsewhere) {
      assert.ok(!allows(catalog, action, arn), `catalog ${action} ${arn}`);
    }
  }
  for (const policy of [consume, query]) {
    for (const arn of [file, ...elsewhere]) assert.ok(!allows(policy, "s3:DeleteObject", arn), arn);
  }

  // KMS: each role on its own keys (the statements matter only with SSE-KMS).
  assert.ok(allows(consume, "kms:GenerateDataKey", LAKE_KEY));
  assert.ok(allows(consume, "kms:Decrypt", LAKE_KEY));
  assert.ok(!allows(consume, "kms:GenerateDataKey", RESULTS_KEY));
  assert.ok(allows(query, "kms:Decrypt", LAKE_KEY));
  assert.ok(allows(query, "kms:GenerateDataKey", RESULTS_KEY));
  // catalog: compaction reads SSE-KMS lake files and writes new ones with the lake key.
  assert.ok(allows(catalog, "kms:Decrypt", LAKE_KEY));
  assert.ok(allows(catalog, "kms:GenerateDataKey", LAKE_KEY));
  assert.ok(!allows(catalog, "kms:Decrypt", RESULTS_KEY));
  assert.ok(!allows(catalog, "kms:GenerateDataKey", RESULTS_KEY));
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

/** The guides say "without SSE-KMS, delete the statements whose Sid ends in OnlyWithSseKms". */
Deno.test("iam: every KMS statement, and only those, has a Sid ending in OnlyWithSseKms", async () => {
  let kms = 0;
  for (const { policy } of Object.values(MODES)) {
    const text = await Deno.readTextFile(join(ROOT, "deploy", "iam", policy));
    for (const statement of JSON.parse(text).Statement as Array<Statement & { Sid: string }>) {
      const isKms = [statement.Action].flat().some((a) => a.startsWith("kms:"));
      assert.equal(statement.Sid.endsWith("OnlyWithSseKms"), isKms, `${policy} ${statement.Sid}`);
      if (isKms) {
        assert.ok([statement.Action].flat().every((a) => a.startsWith("kms:")), statement.Sid);
        kms++;
      }
    }
  }
  assert.equal(kms, 3, "consume, catalog (compaction) and query each have one KMS statement");
});

/** Every `${…}` placeholder of deploy/iam/*.json, with the files that use it. */
async function policyPlaceholders(): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  for await (const entry of Deno.readDir(join(ROOT, "deploy", "iam"))) {
    if (!entry.name.endsWith(".json")) continue;
    const text = await Deno.readTextFile(join(ROOT, "deploy", "iam", entry.name));
    for (const [, name] of text.matchAll(/\$\{(\w+)\}/g)) {
      used.set(name, [...new Set([...(used.get(name) ?? []), entry.name])]);
    }
  }
  return used;
}

/**
 * The EC2 guide's copy-paste `sed` must fill every placeholder: one it misses stays in the policy
 * as literal `${…}` text, which IAM accepts and which then matches nothing (a silent denial).
 */
Deno.test("iam: the README's sed command and deploy/iam/README.md cover every placeholder of deploy/iam/*.json, and name no other", async () => {
  const used = await policyPlaceholders();
  assert.ok(used.has("LakeKmsKeyArn") && used.size >= 8, [...used.keys()].join(" "));
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const start = readme.indexOf("### 4. IAM: one role per mode");
  assert.ok(start >= 0, 'README has a "### 4. IAM: one role per mode" section');
  const block = readme.slice(start).match(/```sh\n([\s\S]*?)```/)?.[1] ?? "";
  // The sed command with its continuation lines, up to the file it reads.
  const sed = block.match(/^\s*(sed (?:[^\n]*\\\n)*[^\n]*?)\s*"?deploy\/iam\//m)?.[1] ?? "";
  assert.ok(sed, "the section's sh block has a sed command reading deploy/iam/");
  const substituted = [...sed.matchAll(/-e 's\|\$\{(\w+)\}\|[^|]*\|g'/g)].map((m) => m[1]);
  assert.deepEqual(
    [...substituted].sort(),
    [...used.keys()].sort(),
    "the sed -e list against the placeholders in deploy/iam/*.json",
  );
  // Run as written: each filled policy is JSON with no placeholder left.
  for (const file of new Set([...used.values()].flat())) {
    const output = await new Deno.Command("sh", {
      args: ["-c", `${sed} deploy/iam/${file}`],
      cwd: ROOT,
      stdout: "piped",
    }).output();
    assert.ok(output.success, `${sed} deploy/iam/${file}`);
    const filled = new TextDecoder().decode(output.stdout);
    assert.doesNotMatch(filled, /\$\{/, file);
    assert.equal(JSON.parse(filled).Version, "2012-10-17");
  }
  const guide = await Deno.readTextFile(join(ROOT, "deploy", "iam", "README.md"));
  for (const [name, files] of used) {
    assert.ok(guide.includes(`\`${name}\``), `deploy/iam/README.md names ${name} (${files})`);
  }
});
