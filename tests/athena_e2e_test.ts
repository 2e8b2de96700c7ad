/**
 * The S3 lake's catalog and query modes in AWS terms, against moto_server: `--mode catalog`
 * registers the tables in Glue, `--mode query --named` runs on Athena. moto
 * runs no SQL, so the result rows are queued through moto's API; what this proves is the
 * wiring and the protocol: Glue registration, the Athena lifecycle, typed output and cost.
 */
import assert from "node:assert/strict";
import { GetPartitionsCommand, GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";

/** A config for an S3 lake in a fresh moto bucket, catalogued in Glue and queried on Athena. */
async function awsWorkspace(catalogExtra = "") {
  const endpoint = testS3Endpoint();
  const bucket = await freshBucket();
  const database = `db_${crypto.randomUUID().slice(0, 8)}`;
  const { config } = await workspace(
    baseToml(uniqueName("athena"), uniqueName("group")).replace(
      /\[store\]\npath = "\{lake\}"\n/,
      `[store]
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${endpoint}"
force_path_style = true

[catalog]
type = "glue"
database = "${database}"
endpoint = "${endpoint}"
${catalogExtra}

[query]
engine = "athena"
endpoint = "${endpoint}"
output_location = "s3://${bucket}/athena/"
format = "json"
`,
    ),
  );
  return { endpoint, bucket, database, config };
}

Deno.test("athena e2e (moto): catalog registers the S3 lake in Glue, query --named latest runs on Athena", async () => {
  const { endpoint, bucket, database, config } = await awsWorkspace();
  const catalogued = await cli(["--mode", "catalog", "--config", config], AWS_TEST_ENV);
  assert.equal(catalogued.code, 0, catalogued.stderr);
  const glue = new GlueClient({ endpoint, region: "us-east-1" });
  const table = await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticker" }));
  assert.equal(table.Table?.StorageDescriptor?.Location, `s3://${bucket}/lake/ticker/`);
  glue.destroy();

  const queued = await fetch(`${endpoint}/moto-api/static/athena/query-results`, {
    method: "POST",
    body: JSON.stringify({
      account_id: "123456789012",
      region: "us-east-1",
      results: [{
        rows: [
          { Data: [{ VarCharValue: "symbol" }, { VarCharValue: "price" }] },
          { Data: [{ VarCharValue: "BTC-USD" }, { VarCharValue: "97000.5" }] },
        ],
        column_info: [{ Name: "symbol", Type: "varchar" }, { Name: "price", Type: "double" }],
      }],
    }),
  });
  await queued.body?.cancel();
  assert.ok(queued.ok);
  const queried = await cli(
    ["--mode", "query", "--config", config, "--named", "latest", "--log-level", "info"],
    AWS_TEST_ENV,
  );
  assert.equal(queried.code, 0, queried.stderr);
  assert.deepEqual(JSON.parse(queried.stdout), [{ symbol: "BTC-USD", price: 97000.5 }]);
  assert.match(
    queried.stderr,
    /athena query finished .*scanned_bytes=0 .*estimated_cost_usd=0\.000000/,
  );
});

Deno.test("glue e2e (moto): catalog.partitions = register finds the lake's dt/hour folders in S3 and registers each once; --dry-run counts them first", async () => {
  const { endpoint, bucket, database, config } = await awsWorkspace('partitions = "register"');
  const store = testS3Store(bucket, "lake");
  const folders = ["dt=2026-11-23/hour=23", "dt=2026-11-24/hour=00", "dt=2026-11-24/hour=07"];
  for (const folder of folders) {
    await store.createOnce(`ticker/${folder}/t+0+00000000000000000000.parquet`, new Uint8Array(8));
  }
  await store.createOnce("ticker/notes/readme.txt", new Uint8Array(1)); // not a partition

  const dry = await cli(["--mode", "catalog", "--config", config, "--dry-run"], AWS_TEST_ENV);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`${database}\\.ticker: would be created`));
  assert.match(dry.stdout, new RegExp(`${database}\\.ticker: 3 dt/hour partition\\(s\\)`));
  assert.match(dry.stdout, new RegExp(`${database}\\.ticker_errors: 0 dt/hour partition\\(s\\)`));

  const glue = new GlueClient({ endpoint, region: "us-east-1" });
  const partitions = async () =>
    ((await glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: "ticker" })))
      .Partitions ?? []).map((p) => p.Values!.join("/")).sort();
  await assert.rejects(() => partitions(), /not found/i, "the dry run created nothing");

  const first = await cli(["--mode", "catalog", "--config", config], AWS_TEST_ENV);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /partitions of .*\.ticker registered .*found=3 created=3 existing=0/);
  assert.deepEqual(await partitions(), ["2026-11-23/23", "2026-11-24/00", "2026-11-24/07"]);

  await store.createOnce(
    "ticker/dt=2026-11-24/hour=08/t+0+00000000000000000042.parquet",
    new Uint8Array(8),
  );
  const second = await cli(["--mode", "catalog", "--config", config], AWS_TEST_ENV);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /found=4 created=1 existing=3/);
  assert.equal((await partitions()).length, 4);
  glue.destroy();
});
