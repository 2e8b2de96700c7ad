/**
 * The IAM policies in deploy/iam/ against the code: every AWS SDK command a mode's backend
 * sends must be allowed by that mode's policy, and no policy may grant deletes. IAM itself
 * cannot run here (moto does not check conditions), so this is a static check of the two
 * texts; a new SDK call without its permission fails this test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = join(import.meta.dirname!, "..");

/** SDK command (or lib-storage class) → the IAM actions it needs. */
const ACTIONS: Record<string, string[]> = {
  PutObjectCommand: ["s3:PutObject"],
  GetObjectCommand: ["s3:GetObject"],
  HeadObjectCommand: ["s3:GetObject"],
  ListObjectsV2Command: ["s3:ListBucket"],
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

/** Which backend files each mode's policy covers (the S3 store lists folders for catalog). */
const MODES: Record<string, { policy: string; files: string[]; only?: RegExp }> = {
  consume: { policy: "consume.json", files: ["src/store/s3.ts"] },
  catalog: {
    policy: "catalog.json",
    files: ["src/catalog/glue.ts", "src/store/s3.ts"],
    // From the store, catalog uses only the folder listing (partitions = "register").
    only: /^(?!PutObject|GetObject|HeadObject|Upload$)/,
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

Deno.test("iam: no policy grants deletes or wildcards", async () => {
  for (const { policy } of Object.values(MODES)) {
    for (const action of await allowed(policy)) {
      assert.doesNotMatch(action, /Delete|\*/, `${policy} grants ${action}`);
    }
  }
});
