/**
 * Binance adapter tests. The fixtures in testdata/binance_*.json are hand-written from the
 * documented shapes (exchange-apis.md §3) with realistic values; they are not captured data.
 */
import assert from "node:assert/strict";
import { TICKER_COLUMNS, validateTicker } from "../record/mod.ts";
import { checkMutatedPolls, checkPoll, fixture, mutate } from "./adapter_testing.ts";
import { BINANCE_DEFAULTS, binanceAdapter } from "./binance.ts";
import type { HttpRequest, Normalized } from "./rest.ts";

type Ticker = Record<string, string | number>;

const INGEST = Date.UTC(2024, 5, 1, 12, 35, 0);
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDC"];
const REQUEST: HttpRequest = {
  path: "/api/v3/ticker/24hr",
  query: { symbols: '["BTCUSDT","ETHUSDT","SOLUSDC"]' },
};

function run(body: unknown, symbols: readonly string[] = SYMBOLS): Normalized {
  return binanceAdapter().normalize([{ request: REQUEST, body }], { ingestTime: INGEST, symbols });
}

Deno.test("binance: defaults; no key needed", () => {
  assert.equal(BINANCE_DEFAULTS.baseUrl, "https://api.binance.com");
  assert.equal(BINANCE_DEFAULTS.requestsPerMinute, 60);
  assert.equal(BINANCE_DEFAULTS.pollIntervalSecs, 5);
  const adapter = binanceAdapter();
  assert.equal(adapter.source, "binance");
  assert.equal(adapter.authorize, undefined);
});

Deno.test("binance: requests: one ticker/24hr with a JSON symbols array, ≤ 20 per request", () => {
  const adapter = binanceAdapter();
  assert.deepEqual(adapter.requests(SYMBOLS), [REQUEST]);
  assert.deepEqual(adapter.requests(["BTC-USDT", "BTC-USDT", "DOGE-USDT"]), [
    { path: "/api/v3/ticker/24hr", query: { symbols: '["BTCUSDT","DOGEUSDT"]' } },
  ]);
  assert.deepEqual(adapter.requests([]), []);
  // 21–100 symbols weigh 40 instead of 2: split at 20.
  const many = Array.from({ length: 45 }, (_, i) => `C${i}-USDT`);
  const requests = adapter.requests(many);
  assert.deepEqual(
    requests.map((r) => (JSON.parse(r.query?.symbols ?? "[]") as string[]).length),
    [20, 20, 5],
  );
  assert.deepEqual(JSON.parse(requests[2].query?.symbols ?? ""), [
    "C40USDT",
    "C41USDT",
    "C42USDT",
    "C43USDT",
    "C44USDT",
  ]);
});

Deno.test("binance: normalize maps ticker/24hr field by field", () => {
  const body = fixture("binance_ticker_24hr.json") as Ticker[];
  const { records, unusable } = run(body);
  assert.deepEqual(unusable, []);
  assert.equal(records.length, 3);
  assert.deepEqual(records[0], {
    schema: "cryptopipe.ticker.v1",
    source: "binance",
    source_kind: "exchange",
    channel: "rest",
    symbol: "BTC-USDT",
    base: "BTC",
    quote: "USDT",
    source_symbol: "BTCUSDT",
    price: 67234.12,
    price_usd: null,
    usd_basis: null,
    bid: 67234.11,
    ask: 67234.12,
    open_24h: 67746.45,
    high_24h: 68011,
    low_24h: 66120.5,
    volume_24h_base: 21534.771,
    volume_24h_quote: 1443920155.12,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: -0.756,
    change_pct_7d: null,
    change_window: "rolling_24h",
    event_time: 1717245296123,
    ingest_time: INGEST,
    seq: 3613110456,
    raw: null,
  });
  records.forEach((record, i) => {
    const ticker = body[i];
    assert.equal(record.symbol, SYMBOLS[i]);
    assert.equal(record.source_symbol, ticker.symbol);
    assert.equal(record.price, Number(ticker.lastPrice));
    assert.equal(record.bid, Number(ticker.bidPrice));
    assert.equal(record.ask, Number(ticker.askPrice));
    assert.equal(record.open_24h, Number(ticker.openPrice));
    assert.equal(record.high_24h, Number(ticker.highPrice));
    assert.equal(record.low_24h, Number(ticker.lowPrice));
    assert.equal(record.volume_24h_base, Number(ticker.volume));
    assert.equal(record.volume_24h_quote, Number(ticker.quoteVolume));
    assert.equal(record.change_pct_24h, Number(ticker.priceChangePercent));
    assert.equal(record.event_time, ticker.closeTime);
    assert.equal(record.seq, ticker.lastId);
    assert.deepEqual(Object.keys(record).sort(), TICKER_COLUMNS.map((c) => c.name).sort());
    const validation = validateTicker(record);
    assert.ok(validation.ok, JSON.stringify(validation));
  });
});

Deno.test("binance: only a USD quote gets price_usd (USDT, USDC do not)", () => {
  const body = fixture("binance_ticker_24hr.json") as Ticker[];
  for (const record of run(body).records) {
    assert.equal(record.price_usd, null);
    assert.equal(record.usd_basis, null);
  }
  // A USD-quoted pair (as on Binance.US) is USD natively.
  const usd = run([{ ...body[0], symbol: "BTCUSD" }], ["BTC-USD"]);
  assert.equal(usd.records[0].symbol, "BTC-USD");
  assert.equal(usd.records[0].price_usd, 67234.12);
  assert.equal(usd.records[0].usd_basis, "native");
  assert.ok(validateTicker(usd.records[0]).ok);
  // BTCUSDT must not be read as BTC-USD, nor BTCUSD as BTC-USDT.
  const crossed = run([{ ...body[0], symbol: "BTCUSD" }], ["BTC-USDT"]);
  assert.deepEqual(crossed.records, []);
  assert.match(crossed.unusable[0].problems[0], /"BTCUSD" is not one of the configured/);
});

Deno.test("binance: odd entries become Unusable naming the field", () => {
  const body = fixture("binance_ticker_24hr_odd.json") as unknown[];
  const symbols = [...SYMBOLS, "XRP-USDT", "DOGE-USDT", "ADA-USDT", "LINK-USDT"];
  const { records, unusable } = run(body, symbols);
  // A negative price is left to the engine's validator; a zero bid/ask is an empty book side.
  assert.deepEqual(records.map((r) => [r.symbol, r.price, r.bid, r.ask]), [
    ["XRP-USDT", -0.5178, null, null],
    ["ADA-USDT", 0.4471, null, null],
  ]);
  const xrp = validateTicker(records[0]);
  assert.ok(!xrp.ok && xrp.problems.includes("price: must be > 0"));
  assert.ok(validateTicker(records[1]).ok);
  const expected: Array<[number, RegExp]> = [
    [0, /^lastPrice: missing$/],
    [1, /^lastPrice: expected a finite decimal, got "NaN"$/],
    [2, /^lastPrice: expected a finite decimal, got "abc"$/],
    [4, /^volume: expected a finite decimal, got "1e999"$/],
    [6, /^closeTime: expected an integer, got "1717245291500"$/],
    [7, /^symbol: "PEPEUSDT" is not one of the configured symbols$/],
    [8, /^symbol: expected a Binance symbol, got undefined$/],
    [9, /^ticker: expected an object, got a string$/],
  ];
  assert.equal(unusable.length, expected.length);
  expected.forEach(([index, pattern], i) => {
    assert.equal(unusable[i].raw, JSON.stringify(body[index]));
    assert.equal(unusable[i].problems.length, 1, unusable[i].problems.join("; "));
    assert.match(unusable[i].problems[0], pattern);
  });
  // A whole body that is not an array (e.g. the single-symbol object form) is one Unusable.
  const object = run((fixture("binance_ticker_24hr.json") as Ticker[])[0]);
  assert.deepEqual(object.records, []);
  assert.deepEqual(object.unusable[0].problems, [
    "body: expected an array of tickers, got an object",
  ]);
  // Several problems in one entry are all named; the raw text is capped at 2000 characters.
  const several = run([{ symbol: "BTCUSDT", lastPrice: "", bidPrice: "x", pad: "p".repeat(3000) }]);
  assert.deepEqual(several.unusable[0].problems, [
    'lastPrice: expected a finite decimal, got ""',
    'bidPrice: expected a finite decimal, got "x"',
  ]);
  assert.equal(several.unusable[0].raw.length, 2000);
});

Deno.test("binance: body errors (-1003 throttled, others failed)", () => {
  const { bodyError } = binanceAdapter();
  const throttled = bodyError(fixture("binance_error_1003.json"));
  assert.equal(throttled?.kind, "throttled");
  assert.match(throttled?.message ?? "", /^code -1003: Too much request weight used/);
  assert.deepEqual(bodyError(fixture("binance_error_1121.json")), {
    kind: "failed",
    message: "code -1121: Invalid symbol.",
  });
  assert.equal(
    bodyError({ code: 0, msg: "Service unavailable from a restricted location" })?.kind,
    "failed",
  );
  for (const fine of [fixture("binance_ticker_24hr.json"), [], null, "text", { code: "x" }]) {
    assert.equal(bodyError(fine), undefined);
  }
});

// ---- robustness: mutated fixtures never make normalize throw ----

Deno.test("binance: normalize never throws on 500 mutated bodies", () => {
  const adapter = binanceAdapter();
  const symbols = [...SYMBOLS, "XRP-USDT", "DOGE-USDT", "ADA-USDT", "LINK-USDT"];
  const context = { ingestTime: INGEST, symbols };
  const bodies = [fixture("binance_ticker_24hr.json"), fixture("binance_ticker_24hr_odd.json")];
  const outcome = checkMutatedPolls(adapter, context, {
    seed: 20240602,
    runs: 500,
    poll: (random, i) => [{ request: REQUEST, body: mutate(bodies[i % 2], random) }],
  });
  for (const odd of [null, 42, "x", [], {}, [[]], [null], { code: -1003 }, [{ symbol: {} }]]) {
    checkPoll(adapter, [{ request: REQUEST, body: odd }], context, outcome);
  }
  const { records, unusable } = outcome;
  assert.ok(records > 100 && unusable > 100, `${records} records, ${unusable} unusable`);
});
