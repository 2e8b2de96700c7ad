/**
 * The S3 lake's catalog and query modes in AWS terms, against moto_server: `--mode catalog`
 * registers the tables in Glue, `--mode query --named` runs on Athena. moto
 * runs no SQL, so the result rows are queued through moto's API; what this proves is the
 * wiring and the protocol: Glue registration, the Athena lifecycle, typed output and cost.
 */
import assert from "node:assert/strict";
import { GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  testS3Endpoint,
  uniqueName,
  workspace,
} from "./helpers.ts";

Deno.test("athena e2e (moto): catalog registers the S3 lake in Glue, query --named latest runs on Athena", async () => {
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

[query]
engine = "athena"
endpoint = "${endpoint}"
output_location = "s3://${bucket}/athena/"
format = "json"
`,
    ),
  );
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
