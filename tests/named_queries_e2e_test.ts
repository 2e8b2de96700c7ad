/**
 * The named queries on a lake written by the real consume mode: a replay file with three
 * sources, three symbols and five hours across midnight goes through produce → Kafka →
 * consume → catalog, then every named query runs through the CLI on DuckDB and is compared
 * with the same answer computed here from the replay rows. The chart and the catalog's
 * dry run are checked on the same lake.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { TICKER_COLUMNS, type TickerRecord } from "../src/record/mod.ts";
import { sampleTicker } from "../src/record/testing.ts";
import { seededRandom } from "../src/source/simulated.ts";
import { baseToml, cli, uniqueName, workspace } from "./helpers.ts";

const SOURCES = ["binance", "coinbase", "kraken"] as const;
const SYMBOLS: Record<string, number> = { "BTC-USD": 91_000, "ETH-USD": 3_050, "SOL-USD": 205 };
const FIRST_HOUR = Date.UTC(2026, 10, 23, 22);

/** 3 sources × 3 symbols × 5 hours × 4 ticks, every event time distinct (no ties to break). */
function replayRows(): TickerRecord[] {
  const random = seededRandom(7);
  const rows: TickerRecord[] = [];
  let n = 0;
  for (let hour = 0; hour < 5; hour++) {
    for (let tick = 0; tick < 4; tick++) {
      for (const source of SOURCES) {
        for (const [symbol, start] of Object.entries(SYMBOLS)) {
          const [base, quote] = symbol.split("-");
          const time = FIRST_HOUR + hour * 3_600_000 + tick * 600_000 + n++ * 1000;
          rows.push(sampleTicker({
            source,
            symbol,
            base,
            quote,
            source_symbol: `${base}${quote}`,
            price: Math.round(start * (1 + (random() - 0.5) / 50) * 100) / 100,
            volume_24h_base: Math.round(random() * 1000 * 100) / 100 + 1,
            change_pct_24h: Math.round((random() - 0.5) * 1000) / 100,
            event_time: time,
            ingest_time: time + 500,
          }));
        }
      }
    }
  }
  return rows;
}

function csv(rows: readonly TickerRecord[]): string {
  const names = TICKER_COLUMNS.map((c) => c.name);
  const cell = (value: unknown) => (value === null || value === undefined ? "" : String(value));
  const lines = rows.map((row) => names.map((name) => cell(row[name as keyof TickerRecord])));
  return [names, ...lines].map((line) => line.join(",")).join("\n") + "\n";
}

const iso = (ms: number) => new Date(ms).toISOString();
const close = (a: unknown, b: number) => Math.abs(Number(a) - b) < 1e-6 * Math.max(1, b);

function latestPerSourceAndSymbol(rows: readonly TickerRecord[]): TickerRecord[] {
  const latest = new Map<string, TickerRecord>();
  for (const row of rows) {
    const key = `${row.source}|${row.symbol}`;
    if ((latest.get(key)?.event_time ?? -1) < row.event_time!) latest.set(key, row);
  }
  return [...latest.values()];
}

function hourly(rows: readonly TickerRecord[]) {
  const groups = new Map<string, TickerRecord[]>();
  for (const row of rows) {
    const t = iso(row.event_time!);
    const key = `${t.slice(0, 10)}|${t.slice(11, 13)}|${row.symbol}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, group]) => {
    const [dt, hour, symbol] = key.split("|");
    const byTime = [...group].sort((a, b) => a.event_time! - b.event_time!);
    const prices = group.map((r) => r.price);
    const volume = group.reduce((sum, r) => sum + r.volume_24h_base!, 0);
    return {
      dt,
      hour,
      symbol,
      records: group.length,
      open: byTime[0].price,
      high: Math.max(...prices),
      low: Math.min(...prices),
      close: byTime.at(-1)!.price,
      vwap: group.reduce((sum, r) => sum + r.price * r.volume_24h_base!, 0) / volume,
    };
  });
}

Deno.test("named queries (DuckDB) on a lake written by produce → Kafka → consume → catalog equal the answers computed from the input", async () => {
  const rows = replayRows();
  const { dir, config } = await workspace(baseToml(
    uniqueName("named"),
    uniqueName("group"),
    `
[sources.history]
type = "replay"
path = "{csv}"

[batch]
max_records = 40
max_age_secs = 1
until_idle_secs = 1.5

[query]
max_rows = 1000
`,
  ));
  const input = join(dir, "history.csv");
  await Deno.writeTextFile(input, csv(rows));
  await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replace("{csv}", input));
  for (
    const args of [
      ["--mode", "produce"],
      ["--mode", "consume", "--until-idle"],
      ["--mode", "catalog"],
    ]
  ) {
    const run = await cli([...args, "--config", config]);
    assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
  }
  const query = (...args: string[]) => cli(["--mode", "query", "--config", config, ...args]);
  const named = async (name: string, ...params: string[]) => {
    const run = await query(
      "--named",
      name,
      "--format",
      "json",
      ...params.flatMap((p) => ["--param", p]),
    );
    assert.equal(run.code, 0, `--named ${name}: ${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, unknown>[];
  };

  const latest = latestPerSourceAndSymbol(rows);
  assert.deepEqual(
    (await named("latest")).map((r) => [r.symbol, r.source, r.price, r.event_time]),
    latest.sort((a, b) => a.symbol.localeCompare(b.symbol) || a.source.localeCompare(b.source))
      .map((r) => [r.symbol, r.source, r.price, r.event_time]),
  );

  const expectedHourly = hourly(rows);
  const gotHourly = await named("hourly");
  assert.equal(gotHourly.length, 5 * 3, "5 hours × 3 symbols");
  gotHourly.forEach((got, i) => {
    const want = expectedHourly[i];
    assert.deepEqual(
      [got.dt, got.hour, got.symbol, got.records, got.open, got.high, got.low, got.close],
      [want.dt, want.hour, want.symbol, want.records, want.open, want.high, want.low, want.close],
    );
    assert.ok(close(got.vwap, want.vwap), `vwap ${got.vwap} vs ${want.vwap}`);
  });
  const ethAfterMidnight = await named("hourly", "symbol=ETH-USD", "from=2026-11-24");
  assert.deepEqual(
    ethAfterMidnight.map((r) => [r.dt, r.hour, r.records]),
    expectedHourly.filter((h) => h.symbol === "ETH-USD" && h.dt === "2026-11-24")
      .map((h) => [h.dt, h.hour, h.records]),
  );
  assert.equal(ethAfterMidnight.length, 3, "hours 00, 01, 02 of the second day");

  const movers = await named("movers");
  for (const source of SOURCES) {
    const want = latest.filter((r) => r.source === source)
      .sort((a, b) => b.change_pct_24h! - a.change_pct_24h!)
      .map((r, i) => [i + 1, r.symbol, r.change_pct_24h]);
    assert.deepEqual(
      movers.filter((r) => r.source === source).map((r) => [r.rank, r.symbol, r.change_pct_24h]),
      want,
    );
  }

  const spread = await named("spread");
  const wantSpread = Object.keys(SYMBOLS).map((symbol) => {
    const quotes = latest.filter((r) => r.symbol === symbol).sort((a, b) => a.price - b.price);
    const [low, high] = [quotes[0], quotes.at(-1)!];
    return {
      symbol,
      sources: quotes.length,
      low: low.price,
      high: high.price,
      cheapest: low.source,
      dearest: high.source,
      spread_pct: (high.price - low.price) / low.price * 100,
    };
  }).sort((a, b) => b.spread_pct - a.spread_pct);
  assert.deepEqual(
    spread.map((r) => [r.symbol, r.sources, r.low, r.high, r.cheapest, r.dearest]),
    wantSpread.map((r) => [r.symbol, r.sources, r.low, r.high, r.cheapest, r.dearest]),
  );
  spread.forEach((r, i) => assert.ok(close(r.spread_pct, wantSpread[i].spread_pct)));

  // The picture of the same result: one line per symbol, every hour a point.
  const svgFile = join(dir, "hourly.svg");
  const charted = await query("--named", "hourly", "--format", "chart", "--chart", svgFile);
  assert.equal(charted.code, 0, charted.stderr);
  for (const symbol of Object.keys(SYMBOLS)) assert.match(charted.stdout, new RegExp(symbol));
  const svg = await Deno.readTextFile(svgFile);
  assert.match(svg, /^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)];
  assert.equal(lines.length, 3, "one line per symbol");
  for (const line of lines) {
    assert.equal(line[1].trim().split(/\s+/).length, 5, "one point per hour");
  }

  // The other ways in and out: SQL from a file (trailing `;`), the result to a file, an
  // HTML chart; a wrong query and a query outside the lake exit 2 with one line.
  const sqlFile = join(dir, "count.sql");
  await Deno.writeTextFile(
    sqlFile,
    "SELECT source, count(*) AS n FROM ticker GROUP BY source\n  ORDER BY source;\n",
  );
  const csvOut = join(dir, "count.csv");
  const htmlChart = join(dir, "latest.html");
  const fromFile = await query("--file", sqlFile, "--format", "csv", "--output", csvOut);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(fromFile.stdout, "", "the result went to --output");
  assert.equal(
    await Deno.readTextFile(csvOut),
    `source,n\n${SOURCES.map((s) => `${s},${rows.length / SOURCES.length}`).join("\n")}\n`,
  );
  const html = await query(
    "--sql",
    "SELECT event_time, symbol, source, price FROM ticker",
    "--chart",
    htmlChart,
  );
  assert.equal(html.code, 0, html.stderr);
  assert.match(await Deno.readTextFile(htmlChart), /^<!doctype html>[\s\S]*<svg[\s\S]*<\/svg>/);
  for (
    const [sql, error] of [
      ["SELECT nope FROM ticker", /Binder Error/],
      ["SELEC 1", /Parser Error/],
      ["SELECT * FROM read_text('/etc/hostname')", /Permission Error/],
      [`COPY (SELECT 1) TO '${join(dir, "leak.csv")}'`, /Permission Error/],
    ] as const
  ) {
    const bad = await query("--sql", sql);
    assert.equal(bad.code, 2, `${sql}: ${bad.stderr}`);
    assert.match(
      bad.stderr.trim(),
      new RegExp(`^error: Cannot run the query: ${error.source}[^\n]*$`),
    );
  }

  // Catalog again, as a dry run: nothing to change.
  const dry = await cli(["--mode", "catalog", "--config", config, "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /cryptopipe\.ticker: unchanged/);
  assert.match(dry.stdout, /cryptopipe\.ticker_errors: unchanged/);
});
