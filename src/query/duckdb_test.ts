/** DuckDB reads the files our encoders write, with the catalog's types, over the Hive layout. */
import assert from "node:assert/strict";
import { configSchema } from "../config/schema.ts";
import { silentLogger } from "../log.ts";
import { lakeTables } from "../catalog/mod.ts";
import { LocalCatalog } from "../catalog/local.ts";
import { glueTableInput } from "../catalog/glue.ts";
import { createEncoder, type Row } from "../encode/mod.ts";
import { lakeRows } from "../encode/testing.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { FileStore } from "../store/file.ts";
import { objectKey, timePartition } from "../store/mod.ts";
import { createQueryEngine, formatResult, NAMED_QUERIES } from "./mod.ts";
import { namedQueryParams, namedQuerySql, sqlLiteral } from "./named.ts";

/** How Athena/Hive types read in DuckDB: the local views must show the Glue table's types. */
const DUCKDB_TYPE_OF_GLUE: Record<string, string> = {
  string: "VARCHAR",
  double: "DOUBLE",
  bigint: "BIGINT",
  int: "INTEGER",
};

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
      // The same table as Glue would have it: columns, then the dt/hour partition keys.
      const glue = glueTableInput(lakeTables(config)[0], "s3://lake/", {
        projectionStart: "2025-01-01",
        partitions: "projection",
      });
      const glueColumns = [...glue.StorageDescriptor!.Columns!, ...glue.PartitionKeys!];
      assert.deepEqual(
        types.rows,
        glueColumns.map((c) => [c.Name, DUCKDB_TYPE_OF_GLUE[c.Type!]]),
        "local column types equal the Glue table's (dt and hour strings in both)",
      );
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
      const latest = await engine.run(
        namedQuerySql("latest", "ticker")!,
        namedQueryParams("latest", []),
      );
      assert.deepEqual(latest.rows.map((r) => r[0]), ["BTC-USD", "ETH-USD"]);
      assert.equal(latest.rows[0][2], rows[4].price, "the latest BTC row is offset 4");
      const hourly = await engine.run(
        namedQuerySql("hourly", "ticker")!,
        namedQueryParams("hourly", []),
      );
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

/** A small lake: 2 sources × 2 symbols × 3 ticks on each of two days. */
async function namedQueryLake() {
  const lake = await Deno.makeTempDir();
  const config = configSchema.parse({ store: { path: lake }, query: { max_rows: 1000 } });
  const encoder = createEncoder("parquet");
  const store = new FileStore(lake);
  const rows: Row[] = [];
  let offset = 0;
  for (const day of [23, 24]) {
    for (const source of ["coinbase", "kraken"]) {
      for (const symbol of ["BTC-USD", "ETH-USD"]) {
        for (let tick = 0; tick < 3; tick++) {
          const base = (symbol === "BTC-USD" ? 90_000 : 3_000) + day;
          const [row] = lakeRows([offset++]);
          rows.push({
            ...row,
            source,
            symbol,
            base: symbol.slice(0, 3),
            source_symbol: symbol,
            price: base + tick * 10 + (source === "kraken" ? 5 : 0),
            volume_24h_base: tick + 1,
            change_pct_24h: (symbol === "BTC-USD" ? 1 : 2) * (source === "kraken" ? -1 : 1) + tick,
            event_time: Date.UTC(2026, 10, day, 7, tick),
            ingest_time: Date.UTC(2026, 10, day, 7, tick),
          });
        }
      }
    }
  }
  for (const day of [23, 24]) {
    const ofDay = rows.filter((r) => new Date(r.event_time as number).getUTCDate() === day);
    const part = timePartition(ofDay[0].event_time as number);
    await store.createOnce(
      objectKey("ticker", part, "t", 0, ofDay[0]._kafka_offset as number, "parquet"),
      encoder.encode(ofDay, LAKE_COLUMNS),
    );
  }
  const catalog = new LocalCatalog(lake, "cryptopipe");
  for (const table of lakeTables(config)) await catalog.register(table);
  return await createQueryEngine(config, await catalog.tables(), { logger: silentLogger });
}

Deno.test("named queries on DuckDB: latest, hourly OHLC/VWAP, movers and spread, with typed parameters", async () => {
  const engine = await namedQueryLake();
  const run = (name: string, params: string[] = []) =>
    engine.run(namedQuerySql(name, "ticker")!, namedQueryParams(name, params));
  try {
    const latest = await run("latest");
    assert.deepEqual(latest.rows.map((r) => [r[0], r[1], r[2]]), [
      ["BTC-USD", "coinbase", 90_044],
      ["BTC-USD", "kraken", 90_049],
      ["ETH-USD", "coinbase", 3_044],
      ["ETH-USD", "kraken", 3_049],
    ]);
    const btcOnDay23 = await run("latest", ["symbol=BTC-USD", "from=2026-11-23", "to=2026-11-23"]);
    assert.deepEqual(btcOnDay23.rows.map((r) => [r[0], r[2]]), [["BTC-USD", 90_043], [
      "BTC-USD",
      90_048,
    ]]);

    const hourly = await run("hourly", ["symbol=ETH-USD", "from=2026-11-24"]);
    assert.deepEqual(hourly.columns, [
      "dt",
      "hour",
      "symbol",
      "records",
      "open",
      "high",
      "low",
      "close",
      "vwap",
    ]);
    // Ticks at 07:00, 07:01, 07:02 from both sources at the same instants: ties are broken by
    // source, so open is coinbase's first tick and close is kraken's last.
    const [row] = hourly.rows;
    assert.deepEqual(row.slice(0, 8), [
      "2026-11-24",
      "07",
      "ETH-USD",
      6,
      3_024,
      3_049,
      3_024,
      3_049,
    ]);
    const prices = [3_024, 3_034, 3_044, 3_029, 3_039, 3_049];
    const volumes = [1, 2, 3, 1, 2, 3];
    const vwap = prices.reduce((a, p, i) => a + p * volumes[i], 0) / 12;
    assert.ok(Math.abs((row[8] as number) - vwap) < 1e-9, `vwap ${row[8]} vs ${vwap}`);

    const movers = await run("movers");
    assert.deepEqual(movers.rows.map((r) => [r[0], r[1], r[2]]), [
      [1, "coinbase", "ETH-USD"],
      [2, "coinbase", "BTC-USD"],
      [1, "kraken", "BTC-USD"],
      [2, "kraken", "ETH-USD"],
    ]);

    const spread = await run("spread");
    assert.deepEqual(spread.rows.map((r) => r.slice(0, 6)), [
      ["ETH-USD", 2, 3_044, 3_049, "coinbase", "kraken"],
      ["BTC-USD", 2, 90_044, 90_049, "coinbase", "kraken"],
    ]);
    assert.ok(Math.abs((spread.rows[0][6] as number) - (5 / 3_044) * 100) < 1e-9);
  } finally {
    engine.close();
  }
});

Deno.test("named query parameters: typed, validated, and injection attempts never reach SQL", () => {
  assert.deepEqual(namedQueryParams("latest", []), ["%", "0000-01-01", "9999-12-31"]);
  assert.deepEqual(
    namedQueryParams("spread", ["to=2026-11-24", "symbol=SOL-USDT"]),
    ["SOL-USDT", "0000-01-01", "2026-11-24"],
  );
  for (
    const attempt of [
      "symbol=' OR '1'='1",
      "symbol=BTC-USD'; DROP TABLE ticker; --",
      "symbol=BTC-USD /* */",
      "symbol=BTC\u2019-USD",
      "symbol=btc-usd",
      "from=2026-02-30",
      "from=2026-11-24' OR ''='",
      "to=1 OR 1=1",
    ]
  ) {
    assert.throws(
      () => namedQueryParams("latest", [attempt]),
      /^UsageError: Invalid --param /,
      attempt,
    );
  }
  assert.throws(() => namedQueryParams("latest", ["limit=5"]), /Unknown parameter "limit"/);
  assert.throws(
    () => namedQueryParams("hourly", ["from=2026-11-24", "to=2026-11-01"]),
    /Invalid --param from=2026-11-24 to=2026-11-01: from is after to/,
  );
  // Athena receives literal text: quotes doubled, backslashes left alone.
  assert.equal(sqlLiteral("it's"), "'it''s'");
  assert.equal(sqlLiteral("a\\'b"), "'a\\''b'");
});
