/**
 * The dedup view: Trino's parser accepts its SQL (Athena engine v3), DuckDB hides a duplicated
 * file through it while the plain table shows both copies, and Glue (moto) holds it as an
 * Athena view whose encoded definition is that same SQL.
 */
import assert from "node:assert/strict";
import {
  GetTableCommand,
  GetTableVersionsCommand,
  GlueClient,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import { trinoParse } from "../../scripts/trino_parser.ts";
import { configSchema } from "../config/schema.ts";
import { createEncoder } from "../encode/mod.ts";
import { lakeRows } from "../encode/testing.ts";
import { silentLogger } from "../log.ts";
import { createQueryEngine } from "../query/mod.ts";
import { namedQueryParams, namedQuerySql } from "../query/named.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { FileStore } from "../store/file.ts";
import { compactedFileName, objectKey, partitionPrefix, timePartition } from "../store/mod.ts";
import { dedupViewSelect } from "./dedup_view.ts";
import { GlueCatalog, glueDedupViewInput } from "./glue.ts";
import { LocalCatalog } from "./local.ts";
import { lakeTables } from "./mod.ts";

Deno.test("dedup view: Trino's parser accepts the view and a dt-filtered query through it", async () => {
  const tables = lakeTables(configSchema.parse({}));
  const results = await trinoParse([
    ...tables.map(dedupViewSelect),
    `SELECT count(*) FROM (${dedupViewSelect(tables[0])}) AS v WHERE dt = ?`,
  ]);
  assert.deepEqual(results, [
    { ok: true, parameters: 0 },
    { ok: true, parameters: 0 },
    { ok: true, parameters: 1 },
  ]);
});

Deno.test("dedup view (duckdb): a record in two files (the overlap window) is one row in the view, two in the table", async () => {
  const lake = await Deno.makeTempDir();
  const config = configSchema.parse({ store: { path: lake }, query: { max_rows: 100 } });
  const rows = lakeRows([0, 1, 2, 3, 4, 5]);
  const encoder = createEncoder("parquet");
  const part = timePartition(rows[0].event_time as number);
  const store = new FileStore(lake);
  // A small file and the compacted file that covers it, before the small one is deleted.
  await store.createOnce(
    objectKey("ticker", part, "crypto.ticker.v1", 0, 0, "parquet"),
    encoder.encode(rows.slice(0, 3), LAKE_COLUMNS),
  );
  await store.createOnce(
    `${partitionPrefix("ticker", part)}/${
      compactedFileName("crypto.ticker.v1", 0, 0, 5, "parquet")
    }`,
    encoder.encode(rows, LAKE_COLUMNS),
  );
  const catalog = new LocalCatalog(lake, "cryptopipe");
  for (const table of lakeTables(config)) await catalog.register(table);
  const engine = await createQueryEngine(config, await catalog.tables(), {
    logger: silentLogger,
  });
  try {
    const count = async (sql: string) => Number((await engine.run(sql)).rows[0][0]);
    assert.equal(await count("SELECT count(*) FROM ticker"), 9);
    assert.equal(await count("SELECT count(*) FROM ticker_dedup"), 6);
    assert.equal(await count("SELECT count(*) FROM cryptopipe.ticker_dedup"), 6);
    assert.equal(await count("SELECT count(*) FROM ticker_errors_dedup"), 0);
    // Named queries read through the view: the hourly count is the record count.
    const hourly = await engine.run(
      namedQuerySql("hourly", "ticker")!,
      namedQueryParams("hourly", []),
    );
    const records = hourly.columns.indexOf("records");
    assert.equal(hourly.rows.reduce((sum, row) => sum + Number(row[records]), 0), 6);
  } finally {
    engine.close();
  }
});

Deno.test("dedup view (glue via moto): registered next to each table as an Athena view with the same SQL; reruns leave it unchanged (UpdateTable observed by SDK middleware)", async () => {
  const endpoint = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!endpoint) throw new Error("CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run `deno task test`");
  const database = `db_${crypto.randomUUID().slice(0, 8)}`;
  const config = configSchema.parse({
    store: { type: "s3", bucket: "my-lake", prefix: "lake" },
    catalog: { type: "glue", database, endpoint, region: "us-east-1" },
  });
  const catalog = new GlueCatalog(config.catalog, config.store);
  const tables = lakeTables(config);
  for (const table of tables) assert.equal(await catalog.register(table), "created");
  // A rerun replaces the view in place and leaves the table unchanged.
  for (const table of tables) assert.equal(await catalog.register(table), "unchanged");
  const glue = new GlueClient({ endpoint, region: "us-east-1" });
  const view =
    (await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticker_dedup" })))
      .Table!;
  assert.equal(view.TableType, "VIRTUAL_VIEW");
  assert.equal(view.Parameters?.presto_view, "true");
  const encoded = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(view.ViewOriginalText ?? "");
  assert.ok(encoded, view.ViewOriginalText ?? "no ViewOriginalText");
  const definition = JSON.parse(
    new TextDecoder().decode(Uint8Array.from(atob(encoded[1]), (c) => c.charCodeAt(0))),
  );
  assert.equal(definition.originalSql, dedupViewSelect(tables[0]));
  assert.equal(definition.catalog, "awsdatacatalog");
  assert.equal(definition.schema, database);
  const types = Object.fromEntries(
    definition.columns.map((c: { name: string; type: string }) => [c.name, c.type]),
  );
  assert.deepEqual(
    [types.price, types.event_time, types._kafka_partition, types.symbol, types.dt],
    ["double", "bigint", "integer", "varchar", "varchar"],
  );
  // Views are not lake tables.
  assert.deepEqual((await catalog.tables()).map((t) => t.name), ["ticker", "ticker_errors"]);

  // Reruns (hourly on a timer) leave an unchanged view alone: no UpdateTable, no new version.
  const updates: Array<{ name?: string; skipArchive?: boolean }> = [];
  catalog.client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "UpdateTableCommand") {
        const input = args.input as { TableInput?: { Name?: string }; SkipArchive?: boolean };
        updates.push({ name: input.TableInput?.Name, skipArchive: input.SkipArchive });
      }
      return next(args);
    },
    { step: "initialize", name: "observeUpdateTable" },
  );
  const versions = async () =>
    (await glue.send(
      new GetTableVersionsCommand({ DatabaseName: database, TableName: "ticker_dedup" }),
    )).TableVersions!.length;
  const versionsBefore = await versions();
  for (let run = 0; run < 3; run++) {
    for (const table of tables) await catalog.register(table);
  }
  assert.deepEqual(updates, []);
  assert.equal(await versions(), versionsBefore);
  // A view edited by hand (or by an older build) is put back, without an archived copy.
  await glue.send(
    new UpdateTableCommand({
      DatabaseName: database,
      TableInput: { ...glueDedupViewInput(tables[0]), Description: "edited by hand" },
    }),
  );
  await catalog.register(tables[0]);
  assert.deepEqual(updates, [{ name: "ticker_dedup", skipArchive: true }]);
  const restored =
    (await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticker_dedup" })))
      .Table!;
  assert.equal(restored.Description, glueDedupViewInput(tables[0]).Description);
});
