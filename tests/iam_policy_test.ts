/**
 * The IAM policies in deploy/iam/ against the code: every AWS SDK command a mode's backend
 * sends must be allowed by that mode's policy, and no policy may grant deletes, except
 * catalog's s3:DeleteObject on the lake prefix (compaction replaces small files). IAM itself
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
