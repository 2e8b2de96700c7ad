/**
 * Coinbase Exchange adapter tests. The fixtures in testdata/coinbase_*.json were written by hand
 * from the response shapes documented in exchange-apis.md §5 (ticker: ask, bid, volume, price,
 * size, trade_id, time; stats: open, high, low, last, volume, volume_30day) with realistic
 * values. They were NOT captured from the live API (the test machines cannot reach it).
 */
import assert from "node:assert/strict";
import { type TickerRecord, validateTicker } from "../record/mod.ts";
import { checkMutatedPolls, mutate } from "./adapter_testing.ts";
import { COINBASE_DEFAULTS, coinbaseAdapter, isoToMs } from "./coinbase.ts";
import type { PollResponse } from "./rest.ts";
import tickerBtcUsd from "./testdata/coinbase_ticker_btc_usd.json" with { type: "json" };
import statsBtcUsd from "./testdata/coinbase_stats_btc_usd.json" with { type: "json" };
import tickerBtcUsdt from "./testdata/coinbase_ticker_btc_usdt.json" with { type: "json" };
import statsBtcUsdt from "./testdata/coinbase_stats_btc_usdt.json" with { type: "json" };
import tickerIlliquid from "./testdata/coinbase_ticker_illiquid.json" with { type: "json" };
import rateLimited from "./testdata/coinbase_error_rate_limit.json" with { type: "json" };
import notFound from "./testdata/coinbase_error_not_found.json" with { type: "json" };

const adapter = coinbaseAdapter();
const INGEST = Date.UTC(2026, 10, 24, 12, 0, 1);
const SYMBOLS = ["BTC-USD", "BTC-USDT", "MUSE-USD"];
const CONTEXT = { ingestTime: INGEST, symbols: SYMBOLS };

function response(product: string, kind: "ticker" | "stats", body: unknown): PollResponse {
  return { request: { path: `/products/${product}/${kind}` }, body: structuredClone(body) };
}

function normalPoll(): PollResponse[] {
  return [
    response("BTC-USD", "ticker", tickerBtcUsd),
    response("BTC-USD", "stats", statsBtcUsd),
    response("BTC-USDT", "ticker", tickerBtcUsdt),
    response("BTC-USDT", "stats", statsBtcUsdt),
    response("MUSE-USD", "ticker", tickerIlliquid),
  ];
}

function bySymbol(records: readonly TickerRecord[]): Map<string, TickerRecord> {
  return new Map(records.map((r) => [r.symbol, r]));
}

Deno.test("coinbase: defaults stay under the documented public limit", () => {
  assert.equal(COINBASE_DEFAULTS.baseUrl, "https://api.exchange.coinbase.com");
  assert.ok(COINBASE_DEFAULTS.requestsPerMinute < 10 * 60);
  assert.equal(adapter.source, "coinbase");
});

Deno.test("coinbase: requests are ticker + stats per product", () => {
  assert.deepEqual(adapter.requests(["BTC-USD", "ETH-USDT", "BTC-USD"]), [
    { path: "/products/BTC-USD/ticker" },
    { path: "/products/BTC-USD/stats" },
    { path: "/products/ETH-USDT/ticker" },
    { path: "/products/ETH-USDT/stats" },
  ]);
  assert.deepEqual(adapter.requests([]), []);
});

Deno.test("coinbase: normal poll maps field by field and validates", () => {
  const { records, unusable } = adapter.normalize(normalPoll(), CONTEXT);
  assert.deepEqual(unusable, []);
  assert.equal(records.length, 3);
  for (const record of records) {
    const validation = validateTicker(record);
    assert.ok(validation.ok, `${record.symbol}: ${JSON.stringify(validation)}`);
  }
  const got = bySymbol(records);
  assert.deepEqual(got.get("BTC-USD"), {
    schema: "cryptopipe.ticker.v1",
    source: "coinbase",
    source_kind: "exchange",
    channel: "rest",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "BTC-USD",
    price: 97012.35,
    price_usd: 97012.35,
    usd_basis: "native",
    bid: 97012.34,
    ask: 97012.35,
    open_24h: 95800.01,
    high_24h: 97850,
    low_24h: 95411.22,
    volume_24h_base: 8123.45678901,
    volume_24h_quote: null,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: ((97012.35 - 95800.01) / 95800.01) * 100,
    change_pct_7d: null,
    change_window: "computed",
    event_time: Date.UTC(2026, 10, 24, 12, 0, 0, 123),
    ingest_time: INGEST,
    seq: 712345678,
    raw: null,
  });
});

Deno.test("coinbase: USDT quote stays USDT with no price_usd", () => {
  const usdt = bySymbol(adapter.normalize(normalPoll(), CONTEXT).records).get("BTC-USDT");
  assert.ok(usdt);
  assert.equal(usdt.quote, "USDT");
  assert.equal(usdt.source_symbol, "BTC-USDT");
  assert.equal(usdt.price, 97030.01);
  assert.equal(usdt.price_usd, null);
  assert.equal(usdt.usd_basis, null);
  assert.equal(usdt.seq, 58812345);
  assert.equal(usdt.event_time, Date.UTC(2026, 10, 24, 11, 59, 59, 987));
  assert.equal(usdt.change_pct_24h, ((97030.01 - 95790.5) / 95790.5) * 100);
});

Deno.test("coinbase: µs time truncates to ms; other ISO forms parse", () => {
  assert.equal(isoToMs("2026-11-24T12:00:00.123999Z"), Date.UTC(2026, 10, 24, 12, 0, 0, 123));
  assert.equal(isoToMs("2026-11-24T12:00:00.9Z"), Date.UTC(2026, 10, 24, 12, 0, 0, 900));
  assert.equal(isoToMs("2026-11-24T12:00:00Z"), Date.UTC(2026, 10, 24, 12));
  assert.equal(isoToMs("2026-11-24T13:00:00.5+01:00"), Date.UTC(2026, 10, 24, 12, 0, 0, 500));
  assert.equal(isoToMs("2026-11-24 12:00:00"), null);
  assert.equal(isoToMs("yesterday"), null);
  assert.equal(isoToMs("2026-13-24T12:00:00Z"), null);
});

Deno.test("coinbase: illiquid product without time, trade_id or stats still yields a record", () => {
  const muse = bySymbol(adapter.normalize(normalPoll(), CONTEXT).records).get("MUSE-USD");
  assert.ok(muse);
  assert.ok(validateTicker(muse).ok);
  assert.equal(muse.price, 0.051);
  assert.equal(muse.volume_24h_base, 0);
  assert.equal(muse.event_time, null);
  assert.equal(muse.seq, null);
  assert.equal(muse.open_24h, null);
  assert.equal(muse.high_24h, null);
  assert.equal(muse.low_24h, null);
  assert.equal(muse.change_pct_24h, null);
  assert.equal(muse.change_window, "computed");
});

Deno.test("coinbase: bad stats give a ticker-only record plus an unusable", () => {
  const { records, unusable } = adapter.normalize([
    response("BTC-USD", "ticker", tickerBtcUsd),
    response("BTC-USD", "stats", { ...statsBtcUsd, open: "0", high: "abc" }),
    response("BTC-USDT", "ticker", tickerBtcUsdt),
    response("BTC-USDT", "stats", ["not", "stats"]),
  ], CONTEXT);
  assert.equal(records.length, 2);
  for (const record of records) {
    assert.ok(validateTicker(record).ok);
    assert.equal(record.open_24h, null);
    assert.equal(record.high_24h, null);
    assert.equal(record.change_pct_24h, null);
  }
  assert.equal(unusable.length, 2);
  assert.match(unusable[0].problems.join(), /BTC-USD stats: open: must be > 0/);
  assert.match(unusable[0].problems.join(), /high: not a finite number/);
  assert.match(unusable[1].problems.join(), /BTC-USDT stats: expected an object, got an array/);
  assert.equal(unusable[1].raw, '["not","stats"]');
});

Deno.test("coinbase: stats without open leave change_pct_24h null", () => {
  const { open: _, ...noOpen } = statsBtcUsd;
  const { records, unusable } = adapter.normalize([
    response("BTC-USD", "stats", noOpen),
    response("BTC-USD", "ticker", tickerBtcUsd),
  ], CONTEXT);
  assert.deepEqual(unusable, []);
  assert.equal(records[0].change_pct_24h, null);
  assert.equal(records[0].open_24h, null);
  assert.equal(records[0].high_24h, 97850);
});

Deno.test("coinbase: odd tickers become unusable with reasons", () => {
  const symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD"];
  const { records, unusable } = adapter.normalize([
    response("BTC-USD", "ticker", { ...tickerBtcUsd, price: "abc" }),
    response("ETH-USD", "ticker", { bid: "3400.1", ask: "3400.2" }),
    response("SOL-USD", "ticker", "oops"),
    response("ADA-USD", "ticker", { price: "0.9", time: 1732449600, trade_id: "x1" }),
    response("XRP-USD", "ticker", { price: "1.4", bid: {} }),
    response("DOT-USD", "ticker", { price: "7.1" }),
    { request: { path: "/products" }, body: [] },
  ], { ingestTime: INGEST, symbols });
  assert.deepEqual(records, []);
  const problems = unusable.map((u) => u.problems.join(" | "));
  assert.deepEqual(problems, [
    'request "/products": not a ticker or stats path',
    'BTC-USD ticker: price: not a finite number: "abc"',
    "ETH-USD ticker: price: missing",
    "SOL-USD ticker: expected an object, got a string",
    'ADA-USD ticker: trade_id: not an integer: "x1" | ADA-USD ticker: time: not an ISO-8601 UTC time: 1732449600',
    "XRP-USD ticker: bid: not a finite number: {}",
    "DOT-USD: DOT-USD is not a configured symbol",
  ]);
  assert.equal(unusable[1].raw, JSON.stringify({ ...tickerBtcUsd, price: "abc" }));
  const long = adapter.normalize([response("BTC-USD", "ticker", { price: "x".repeat(5000) })], {
    ingestTime: INGEST,
    symbols,
  });
  assert.equal(long.unusable[0].raw.length, 2000);
});

Deno.test("coinbase: a configured product absent from the poll yields nothing", () => {
  const { records, unusable } = adapter.normalize(
    [response("BTC-USD", "ticker", tickerBtcUsd)],
    { ingestTime: INGEST, symbols: ["BTC-USD", "ETH-USD"] },
  );
  assert.deepEqual(records.map((r) => r.symbol), ["BTC-USD"]);
  assert.deepEqual(unusable, []);
  assert.deepEqual(adapter.normalize([], CONTEXT), { records: [], unusable: [] });
});

Deno.test("coinbase: message bodies are errors, rate limit is throttled", () => {
  assert.deepEqual(adapter.bodyError(rateLimited), {
    kind: "throttled",
    message: "Public rate limit exceeded",
  });
  assert.deepEqual(adapter.bodyError(notFound), { kind: "failed", message: "NotFound" });
  assert.equal(adapter.bodyError(tickerBtcUsd), undefined);
  assert.equal(adapter.bodyError(statsBtcUsd), undefined);
  for (const body of [null, [], "message", 42, { message: 42 }]) {
    assert.equal(adapter.bodyError(body), undefined);
  }
});

// ---- robustness ----

/** Besides the usual garbage: a time without its zone. */
const EXTRA_GARBAGE = ["2026-11-24T12:00:00.123456"];

Deno.test("coinbase: normalize never throws on ~500 mutated polls", () => {
  const { records, unusable } = checkMutatedPolls(adapter, CONTEXT, {
    seed: 20261124,
    runs: 500,
    poll: (random) =>
      normalPoll().map((r) => {
        if (random() < 0.5) return r;
        const body = mutate(r.body, random, EXTRA_GARBAGE);
        const path = random() < 0.05 ? String(mutate(r.request.path, random)) : r.request.path;
        return { request: { path }, body };
      }),
  });
  assert.ok(records > 0 && unusable > 0, `${records} records, ${unusable} unusable`);
  for (const body of [null, [], "x", 1, true, {}, [[[]]], { price: { price: [] } }]) {
    const out = adapter.normalize([response("BTC-USD", "ticker", body)], CONTEXT);
    assert.equal(out.records.length, 0);
    assert.equal(out.unusable.length, 1);
  }
});
