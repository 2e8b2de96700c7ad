/**
 * The Glue catalog against moto_server over HTTP (one moto serves S3 and Glue; the endpoint
 * comes from CRYPTOPIPE_TEST_S3_ENDPOINT, set by `deno task test`). moto does not validate
 * TableInput, so the tests read the table back and check what Athena relies on.
 */
import assert from "node:assert/strict";
import { GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { configSchema } from "../config/schema.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { GlueCatalog } from "./glue.ts";
import { createCatalog, lakeTables, type TableDefinition } from "./mod.ts";

function endpoint(): string {
  const url = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!url) throw new Error("CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run `deno task test`");
  return url;
}

function setup(format: "parquet" | "jsonl" = "parquet") {
  const database = `db_${crypto.randomUUID().slice(0, 8)}`;
  const config = configSchema.parse({
    store: { type: "s3", bucket: "my-lake", prefix: "crypto/lake" },
    catalog: { type: "glue", database, endpoint: endpoint(), region: "us-east-1" },
    encode: { format },
  });
  const glue = new GlueClient({ endpoint: endpoint(), region: "us-east-1" });
  const getTable = async (name: string) =>
    (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table!;
  return { config, database, catalog: new GlueCatalog(config.catalog, config.store), getTable };
}

Deno.test("glue catalog (moto): tables are created once with partition projection matching the lake layout", async () => {
  const { config, catalog, getTable } = setup();
  const tables = lakeTables(config);
  for (const table of tables) assert.equal(await catalog.register(table), "created");
  for (const table of tables) assert.equal(await catalog.register(table), "unchanged");

  const ticker = await getTable("ticker");
  assert.equal(ticker.TableType, "EXTERNAL_TABLE");
  assert.equal(ticker.StorageDescriptor?.Location, "s3://my-lake/crypto/lake/ticker/");
  assert.equal(
    ticker.Parameters?.["storage.location.template"],
    "s3://my-lake/crypto/lake/ticker/dt=${dt}/hour=${hour}/",
  );
  assert.equal(ticker.Parameters?.["projection.enabled"], "true");
  assert.equal(ticker.Parameters?.["projection.dt.range"], "2025-01-01,NOW");
  assert.equal(ticker.Parameters?.["projection.hour.digits"], "2");
  assert.equal(ticker.Parameters?.classification, "parquet");
  assert.deepEqual(ticker.PartitionKeys?.map((k) => [k.Name, k.Type]), [
    ["dt", "string"],
    ["hour", "string"],
  ]);
  assert.deepEqual(
    ticker.StorageDescriptor?.Columns?.map((c) => c.Name),
    LAKE_COLUMNS.map((c) => c.name),
  );
  const types = Object.fromEntries(
    ticker.StorageDescriptor!.Columns!.map((c) => [c.Name, c.Type]),
  );
  assert.deepEqual(
    [types.price, types.event_time, types._kafka_partition, types.symbol],
    ["double", "bigint", "int", "string"],
  );
  assert.match(
    ticker.StorageDescriptor?.SerdeInfo?.SerializationLibrary ?? "",
    /ParquetHiveSerDe/,
  );
  assert.deepEqual((await catalog.tables()).map((t) => t.name), ["ticker", "ticker_errors"]);
});

Deno.test("glue catalog (moto): JSON-lines tables use the JSON SerDe", async () => {
  const { config, catalog, getTable } = setup("jsonl");
  await catalog.register(lakeTables(config)[0]);
  const ticker = await getTable("ticker");
  assert.equal(ticker.Parameters?.classification, "json");
  assert.equal(
    ticker.StorageDescriptor?.SerdeInfo?.SerializationLibrary,
    "org.openx.data.jsonserde.JsonSerDe",
  );
});

Deno.test("glue catalog (moto): a new nullable column at the end is applied; a changed column is refused with the difference", async () => {
  const { config, catalog, getTable } = setup();
  const [ticker] = lakeTables(config);
  await catalog.register(ticker);
  const grown: TableDefinition = {
    ...ticker,
    columns: [...ticker.columns, {
      name: "funding_rate",
      type: "float64",
      nullable: true,
      doc: "a new field",
    }],
  };
  assert.equal(await catalog.register(grown), "updated");
  assert.equal((await getTable("ticker")).StorageDescriptor?.Columns?.at(-1)?.Name, "funding_rate");

  const retyped: TableDefinition = {
    ...grown,
    columns: grown.columns.map((c) => c.name === "price" ? { ...c, type: "string" } : c),
  };
  await assert.rejects(
    () => catalog.register(retyped),
    /does not match .*column \d+ is price double in Glue, price string in the code/,
  );
  const shrunk: TableDefinition = { ...grown, columns: ticker.columns };
  await assert.rejects(() => catalog.register(shrunk), /funding_rate is in Glue but no longer/);
  assert.equal(
    (await getTable("ticker")).StorageDescriptor?.Columns?.at(-1)?.Name,
    "funding_rate",
    "a refused change leaves the table alone",
  );
});

Deno.test("glue catalog: needs an S3 lake", () => {
  const config = configSchema.parse({ catalog: { type: "glue" } });
  assert.throws(() => createCatalog(config), /catalog.type = "glue" registers an S3 lake/);
});
