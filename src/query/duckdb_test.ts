/** DuckDB reads the files our encoders write, with the catalog's types, over the Hive layout. */
import assert from "node:assert/strict";
import { configSchema } from "../config/schema.ts";
import { silentLogger } from "../log.ts";
import { lakeTables } from "../catalog/mod.ts";
import { LocalCatalog } from "../catalog/local.ts";
import { createEncoder } from "../encode/mod.ts";
import { lakeRows } from "../encode/testing.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { FileStore } from "../store/file.ts";
import { objectKey, timePartition } from "../store/mod.ts";
import { createQueryEngine, formatResult, NAMED_QUERIES } from "./mod.ts";
import { namedQuerySql } from "./named.ts";

const DUCKDB_TYPE = {
  string: "VARCHAR",
  float64: "DOUBLE",
  int64: "BIGINT",
  int32: "INTEGER",
} as const;

for (const [format, gzip] of [["parquet", false], ["jsonl", false], ["jsonl", true]] as const) {
  Deno.test(`duckdb (${format}${gzip ? ", gzip" : ""}): lake files read back with the catalog's column types`, async () => {
    const lake = await Deno.makeTempDir();
    const config = configSchema.parse({
      store: { path: lake },
      encode: { format, row_group_size: 100, gzip },
      query: { max_rows: 100 },
    });
    const rows = lakeRows([0, 1, 2, 3, 4, 5]);
    const encoder = createEncoder(format, { gzip });
    const part = timePartition(rows[0].event_time as number);
    await new FileStore(lake).createOnce(
      objectKey("ticker", part, "crypto.ticker.v1", 2, 0, encoder.extension),
      encoder.encode(rows, LAKE_COLUMNS),
    );
    const catalog = new LocalCatalog(lake, "cryptopipe");
    for (const table of lakeTables(config)) assert.equal(await catalog.register(table), "created");
    for (const table of lakeTables(config)) {
      assert.equal(await catalog.register(table), "unchanged");
    }

    const engine = await createQueryEngine(config, await catalog.tables(), {
      logger: silentLogger,
    });
    try {
      const types = await engine.run(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'ticker' ORDER BY ordinal_position",
      );
      assert.deepEqual(types.rows, [...LAKE_COLUMNS.map((c) => [c.name, DUCKDB_TYPE[c.type]]), [
        "dt",
        "VARCHAR",
      ], ["hour", "VARCHAR"]]);
      const back = await engine.run("SELECT * FROM cryptopipe.ticker ORDER BY _kafka_offset");
      assert.equal(back.rows.length, rows.length);
      for (const [i, row] of back.rows.entries()) {
        for (const [j, name] of back.columns.entries()) {
          const expected = name === "dt" ? part.dt : name === "hour" ? part.hour : rows[i][name];
          assert.deepEqual(row[j], expected, `${name} of row ${i}`);
        }
      }
      const errors = await engine.run("SELECT count(*) AS n FROM ticker_errors");
      assert.deepEqual(errors.rows, [[0]], "an empty table still exists, with its schema");
      const latest = await engine.run(namedQuerySql("latest", "ticker")!);
      assert.deepEqual(latest.rows.map((r) => r[0]), ["BTC-USD", "ETH-USD"]);
      assert.equal(latest.rows[0][2], rows[4].price, "the latest BTC row is offset 4");
      const hourly = await engine.run(namedQuerySql("hourly", "ticker")!);
      assert.deepEqual(hourly.rows.map((r) => [r[2], r[3]]), [["BTC-USD", 3], ["ETH-USD", 3]]);
    } finally {
      engine.close();
    }
  });
}

Deno.test("query output: aligned table, csv with quoting, json", () => {
  const result = {
    columns: ["symbol", "price", "note"],
    rows: [["BTC-USD", 97000.5, 'a, "b"'], ["ETH-USD", 3400, null]],
    truncated: false,
  };
  assert.equal(
    formatResult(result, "table"),
    'symbol     price  note\n-------  -------  ------\nBTC-USD  97000.5  a, "b"\nETH-USD     3400\n(2 rows)\n',
  );
  assert.equal(
    formatResult(result, "csv"),
    'symbol,price,note\nBTC-USD,97000.5,"a, ""b"""\nETH-USD,3400,\n',
  );
  assert.deepEqual(JSON.parse(formatResult(result, "json")), [
    { symbol: "BTC-USD", price: 97000.5, note: 'a, "b"' },
    { symbol: "ETH-USD", price: 3400, note: null },
  ]);
  assert.ok(Object.keys(NAMED_QUERIES).includes("latest"));
});
