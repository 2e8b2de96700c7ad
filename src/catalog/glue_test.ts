/**
 * The Glue catalog against moto_server over HTTP (one moto serves S3 and Glue; the endpoint
 * comes from CRYPTOPIPE_TEST_S3_ENDPOINT, set by `deno task test`). moto does not validate
 * TableInput, so the tests read the table back and check what Athena relies on.
 */
import assert from "node:assert/strict";
import {
  GetDatabaseCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
} from "@aws-sdk/client-glue";
import { configSchema } from "../config/schema.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { BATCH_CREATE_LIMIT, GlueCatalog } from "./glue.ts";
import { createCatalog, lakeTables, type TableDefinition } from "./mod.ts";

function endpoint(): string {
  const url = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!url) throw new Error("CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run `deno task test`");
  return url;
}

function setup(
  format: "parquet" | "jsonl" = "parquet",
  partitions: "projection" | "register" = "projection",
) {
  const database = `db_${crypto.randomUUID().slice(0, 8)}`;
  const config = configSchema.parse({
    store: { type: "s3", bucket: "my-lake", prefix: "crypto/lake" },
    catalog: { type: "glue", database, endpoint: endpoint(), region: "us-east-1", partitions },
    encode: { format },
  });
  const glue = new GlueClient({ endpoint: endpoint(), region: "us-east-1" });
  const getTable = async (name: string) =>
    (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table!;
  return {
    config,
    database,
    glue,
    catalog: new GlueCatalog(config.catalog, config.store),
    getTable,
  };
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

Deno.test("glue catalog (moto): plan (--dry-run) shows the difference and changes nothing", async () => {
  const { config, database, glue, catalog, getTable } = setup();
  const [ticker] = lakeTables(config);
  const first = await catalog.plan(ticker);
  assert.equal(first.action, "create");
  assert.ok(first.changes.includes("+ column price double"));
  await assert.rejects(() => getTable("ticker"), /not found/i, "a plan creates nothing");
  await assert.rejects(
    () => glue.send(new GetDatabaseCommand({ Name: database })),
    /not found/i,
    "not even the database",
  );

  await catalog.register(ticker);
  assert.equal((await catalog.plan(ticker)).action, "unchanged");
  const grown: TableDefinition = {
    ...ticker,
    columns: [...ticker.columns, {
      name: "open_interest",
      type: "float64",
      nullable: true,
      doc: "",
    }],
  };
  const update = await catalog.plan(grown);
  assert.deepEqual([update.action, update.changes], ["update", ["+ column open_interest double"]]);
  const retyped = await catalog.plan({
    ...ticker,
    columns: ticker.columns.map((c) => c.name === "symbol" ? { ...c, type: "int64" } : c),
  });
  assert.equal(retyped.action, "refuse");
  assert.match(retyped.problems.join(), /symbol string in Glue, symbol bigint in the code/);
  assert.equal(
    (await getTable("ticker")).StorageDescriptor?.Columns?.length,
    ticker.columns.length,
    "plans leave the table as it was",
  );
});

Deno.test("glue catalog (moto, SDK middleware observing the calls): partitions = register adds every partition with BatchCreatePartition, at most 100 per call, and a rerun counts them as existing", async () => {
  const { config, database, glue, catalog, getTable } = setup("parquet", "register");
  const [ticker] = lakeTables(config);
  assert.equal(await catalog.register(ticker), "created");
  const table = await getTable("ticker");
  assert.equal(table.Parameters?.["projection.enabled"], undefined, "no projection");
  assert.equal(table.Parameters?.["storage.location.template"], undefined);

  const batchSizes: number[] = [];
  catalog.client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "BatchCreatePartitionCommand") {
        const input = args.input as { PartitionInputList: unknown[] };
        batchSizes.push(input.PartitionInputList.length);
      }
      return next(args);
    },
    { step: "initialize", name: "observeBatchCreatePartition" },
  );
  // 10 days × 24 hours + 10 hours of an 11th day = 250 partitions.
  const partitions = Array.from({ length: 250 }, (_, i) => {
    const iso = new Date(Date.UTC(2026, 10, 1) + i * 3_600_000).toISOString();
    return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
  });
  assert.deepEqual(await catalog.registerPartitions(ticker, partitions), {
    created: 250,
    existing: 0,
  });
  assert.deepEqual(batchSizes, [BATCH_CREATE_LIMIT, BATCH_CREATE_LIMIT, 50]);
  assert.deepEqual(await catalog.registerPartitions(ticker, partitions.slice(0, 120)), {
    created: 0,
    existing: 120,
  });

  const registered = [];
  let token: string | undefined;
  do {
    const page = await glue.send(
      new GetPartitionsCommand({ DatabaseName: database, TableName: "ticker", NextToken: token }),
    );
    registered.push(...page.Partitions ?? []);
    token = page.NextToken;
  } while (token);
  assert.equal(registered.length, 250);
  const first = registered.find((p) => p.Values?.join("/") === "2026-11-01/00")!;
  assert.equal(
    first.StorageDescriptor?.Location,
    "s3://my-lake/crypto/lake/ticker/dt=2026-11-01/hour=00/",
  );
  assert.match(first.StorageDescriptor?.SerdeInfo?.SerializationLibrary ?? "", /Parquet/);
});

Deno.test("glue catalog (SDK middleware stub: moto cannot refuse one partition): a partition Glue refuses fails the run, naming it", async () => {
  const { config, catalog } = setup("parquet", "register");
  const [ticker] = lakeTables(config);
  await catalog.register(ticker);
  catalog.client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === "BatchCreatePartitionCommand") {
        (result.output as { Errors?: unknown[] }).Errors = [{
          PartitionValues: ["2026-11-02", "05"],
          ErrorDetail: { ErrorCode: "InternalServiceException", ErrorMessage: "try later" },
        }];
      }
      return result;
    },
    { step: "initialize", name: "refuseOnePartition" },
  );
  await assert.rejects(
    () => catalog.registerPartitions(ticker, [{ dt: "2026-11-02", hour: "05" }]),
    /Glue refused 1 partition\(s\) of db_\w+\.ticker: dt=2026-11-02\/hour=05: InternalServiceException try later/,
  );
});

Deno.test("glue catalog (moto): two catalog runs at once both succeed (the loser of the create race compares again)", async () => {
  const { config } = setup();
  const [ticker] = lakeTables(config);
  const first = new GlueCatalog(config.catalog, config.store);
  const second = new GlueCatalog(config.catalog, config.store);
  const results = await Promise.all([first.register(ticker), second.register(ticker)]);
  assert.deepEqual(results.sort(), ["created", "unchanged"]);
});

Deno.test("glue catalog: needs an S3 lake", () => {
  const config = configSchema.parse({ catalog: { type: "glue" } });
  assert.throws(() => createCatalog(config), /catalog.type = "glue" registers an S3 lake/);
});
