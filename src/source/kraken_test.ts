/**
 * Kraken Spot adapter tests. The fixtures in testdata/kraken_*.json were written by hand from
 * the response shape documented in exchange-apis.md §6 (`{"error":[],"result":{PAIR:{a,b,c,v,
 * p,t,l,h,o}}}`, result keys in Kraken's own altname or legacy X/Z form) with realistic values.
 * They were NOT captured from the live API (the test machines cannot reach it).
 */
import assert from "node:assert/strict";
import { type TickerRecord, validateTicker } from "../record/mod.ts";
import { checkMutatedPolls, mutate } from "./adapter_testing.ts";
import {
  KRAKEN_DEFAULTS,
  KRAKEN_MAX_PAIRS,
  krakenAdapter,
  krakenPairName,
  krakenResultKeys,
} from "./kraken.ts";
import type { PollResponse } from "./rest.ts";
import ticker from "./testdata/kraken_ticker.json" with { type: "json" };
import tooMany from "./testdata/kraken_error_too_many_requests.json" with { type: "json" };
import rateLimit from "./testdata/kraken_error_rate_limit.json" with { type: "json" };
import unknownPair from "./testdata/kraken_error_unknown_pair.json" with { type: "json" };
import unavailable from "./testdata/kraken_error_unavailable.json" with { type: "json" };

const adapter = krakenAdapter();
const INGEST = Date.UTC(2026, 10, 24, 12, 0, 1);
const SYMBOLS = ["BTC-USD", "ETH-USD", "DOGE-USD", "SOL-USD", "BTC-USDT", "ETH-BTC"];
const CONTEXT = { ingestTime: INGEST, symbols: SYMBOLS };

/** A poll as the engine builds it: the adapter's own request and the body. */
function poll(symbols: readonly string[], body: unknown): PollResponse[] {
  return adapter.requests(symbols).map((request) => ({ request, body: structuredClone(body) }));
}

function bySymbol(records: readonly TickerRecord[]): Map<string, TickerRecord> {
  return new Map(records.map((r) => [r.symbol, r]));
}

Deno.test("kraken: defaults budget about half of ccxt's 1 req/s", () => {
  assert.equal(KRAKEN_DEFAULTS.baseUrl, "https://api.kraken.com");
  assert.ok(KRAKEN_DEFAULTS.requestsPerMinute <= 60);
  assert.ok(60 / KRAKEN_DEFAULTS.pollIntervalSecs <= KRAKEN_DEFAULTS.requestsPerMinute);
  assert.equal(adapter.source, "kraken");
});

Deno.test("kraken: one Ticker request with Kraken pair names", () => {
  assert.deepEqual(adapter.requests(["BTC-USD", "ETH-USD", "DOGE-USD", "BTC-USDT", "BTC-USD"]), [
    { path: "/0/public/Ticker", query: { pair: "XBTUSD,ETHUSD,XDGUSD,XBTUSDT" } },
  ]);
  assert.deepEqual(adapter.requests(["ETH-BTC", "SOL-EUR"]), [
    { path: "/0/public/Ticker", query: { pair: "ETHXBT,SOLEUR" } },
  ]);
  assert.deepEqual(adapter.requests([]), []);
  assert.equal(krakenPairName("DOGE-USDT"), "XDGUSDT");
  assert.deepEqual(krakenResultKeys("BTC-USD"), ["XBTUSD", "XXBTZUSD", "XXBTXUSD"]);
  assert.deepEqual(krakenResultKeys("SOL-USDT"), ["SOLUSDT"]);
});

Deno.test("kraken: more than 20 symbols asks for every pair", () => {
  const many = Array.from({ length: KRAKEN_MAX_PAIRS + 1 }, (_, i) => `A${i}-USD`);
  assert.deepEqual(adapter.requests(many), [{ path: "/0/public/Ticker" }]);
  assert.equal(
    adapter.requests(many.slice(0, KRAKEN_MAX_PAIRS))[0].query?.pair.split(",").length,
    20,
  );
});

Deno.test("kraken: normal poll maps field by field and validates", () => {
  const { records, unusable } = adapter.normalize(poll(SYMBOLS, ticker), CONTEXT);
  assert.deepEqual(unusable, []);
  assert.equal(records.length, 6);
  for (const record of records) {
    const validation = validateTicker(record);
    assert.ok(validation.ok, `${record.symbol}: ${JSON.stringify(validation)}`);
  }
  assert.deepEqual(bySymbol(records).get("BTC-USD"), {
    schema: "cryptopipe.ticker.v1",
    source: "kraken",
    source_kind: "exchange",
    channel: "rest",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "XXBTZUSD",
    price: 97012.1,
    price_usd: 97012.1,
    usd_basis: "native",
    bid: 97012,
    ask: 97012.1,
    open_24h: null,
    high_24h: 97800,
    low_24h: 95400,
    volume_24h_base: 2987.12345678,
    volume_24h_quote: 2987.12345678 * 96710.91234,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: ((97012.1 - 96510.4) / 96510.4) * 100,
    change_pct_7d: null,
    change_window: "utc_day",
    event_time: null,
    ingest_time: INGEST,
    seq: null,
    raw: null,
  });
});

Deno.test("kraken: XBT→BTC, XDG→DOGE, and USD vs USDT kept apart", () => {
  const got = bySymbol(adapter.normalize(poll(SYMBOLS, ticker), CONTEXT).records);
  const keys = Object.fromEntries([...got].map(([symbol, r]) => [symbol, r.source_symbol]));
  assert.deepEqual(keys, {
    "BTC-USD": "XXBTZUSD",
    "ETH-USD": "XETHZUSD",
    "DOGE-USD": "XDGUSD",
    "SOL-USD": "SOLUSD",
    "BTC-USDT": "XBTUSDT",
    "ETH-BTC": "XETHXXBT",
  });
  const doge = got.get("DOGE-USD")!;
  assert.equal(doge.base, "DOGE");
  assert.equal(doge.price, 0.3812345);
  assert.equal(doge.price_usd, 0.3812345);
  const usdt = got.get("BTC-USDT")!;
  assert.equal(usdt.base, "BTC");
  assert.equal(usdt.quote, "USDT");
  assert.equal(usdt.price, 97050);
  assert.equal(usdt.price_usd, null);
  assert.equal(usdt.usd_basis, null);
  const ethBtc = got.get("ETH-BTC")!;
  assert.equal(ethBtc.quote, "BTC");
  assert.equal(ethBtc.price, 0.035065);
  assert.equal(ethBtc.price_usd, null);
  assert.notEqual(got.get("BTC-USD")!.price, usdt.price);
});

Deno.test("kraken: all-pairs response is filtered to the configured symbols", () => {
  const symbols = ["BTC-USDT", "SOL-USD"];
  const allPairs: PollResponse = { request: { path: "/0/public/Ticker" }, body: ticker };
  const { records, unusable } = adapter.normalize([allPairs], { ingestTime: INGEST, symbols });
  assert.deepEqual(records.map((r) => r.symbol).sort(), ["BTC-USDT", "SOL-USD"]);
  assert.deepEqual(unusable, []);
  // A configured symbol absent from the response yields nothing.
  const absent = adapter.normalize([allPairs], { ingestTime: INGEST, symbols: ["ADA-EUR"] });
  assert.deepEqual(absent, { records: [], unusable: [] });
});

Deno.test("kraken: unrequested pairs in an explicit response are unusable", () => {
  const symbols = ["BTC-USD", "ETH-USD"];
  const { records, unusable } = adapter.normalize(poll(symbols, ticker), {
    ingestTime: INGEST,
    symbols,
  });
  assert.deepEqual(records.map((r) => r.symbol), ["BTC-USD", "ETH-USD"]);
  assert.deepEqual(unusable.map((u) => u.problems), [
    ["XDGUSD: unknown pair, not a configured symbol"],
    ["SOLUSD: unknown pair, not a configured symbol"],
    ["XBTUSDT: unknown pair, not a configured symbol"],
    ["XETHXXBT: unknown pair, not a configured symbol"],
  ]);
  assert.equal(unusable[0].raw, JSON.stringify(ticker.result.XDGUSD));
});

Deno.test("kraken: a second entry for the same symbol is unusable", () => {
  const entry = ticker.result.XXBTZUSD;
  const body = { error: [], result: { XXBTZUSD: entry, XBTUSD: { ...entry, c: ["1", "1"] } } };
  const { records, unusable } = adapter.normalize(poll(["BTC-USD"], body), CONTEXT);
  assert.deepEqual(records.map((r) => [r.symbol, r.source_symbol, r.price]), [
    ["BTC-USD", "XXBTZUSD", 97012.1],
  ]);
  assert.deepEqual(unusable.map((u) => u.problems), [["XBTUSD: a second entry for BTC-USD"]]);
});

Deno.test("kraken: odd entries become unusable with reasons", () => {
  const good = ticker.result.XXBTZUSD;
  const body = {
    error: [],
    result: {
      XXBTZUSD: { ...good, c: undefined },
      XETHZUSD: { ...good, c: ["abc", "1"] },
      XDGUSD: "not an entry",
      SOLUSD: { ...good, b: "240.1", o: [] },
      XBTUSDT: { ...good, h: ["1", {}], v: [] },
      XETHXXBT: { ...good, c: ["1e400"] },
    },
  };
  const { records, unusable } = adapter.normalize(poll(SYMBOLS, body), CONTEXT);
  // v: [] only blanks the volumes; h[1] = {} is a wrong type.
  assert.deepEqual(records, []);
  assert.deepEqual(unusable.map((u) => u.problems), [
    ["XXBTZUSD: c[0] (price): missing"],
    ['XETHZUSD: c[0] (price): not a finite number: "abc"'],
    ["XDGUSD: expected an object, got a string"],
    [
      "SOLUSD: b[0] (bid): b is a string, expected an array",
      "SOLUSD: o (UTC-day open): not a finite number: []",
    ],
    ["XBTUSDT: h[1] (high_24h): not a finite number: {}"],
    ['XETHXXBT: c[0] (price): not a finite number: "1e400"'],
  ]);
  const { records: fine } = adapter.normalize(
    poll(["BTC-USD"], { error: [], result: { XXBTZUSD: { c: ["97000.5"], v: [] } } }),
    { ingestTime: INGEST, symbols: ["BTC-USD"] },
  );
  assert.equal(fine.length, 1);
  assert.ok(validateTicker(fine[0]).ok);
  assert.equal(fine[0].volume_24h_base, null);
  assert.equal(fine[0].volume_24h_quote, null);
  assert.equal(fine[0].change_pct_24h, null);
});

Deno.test("kraken: a body without a result object is unusable", () => {
  for (const body of [null, [], "x", { error: [] }, { error: ["EService:Unavailable"] }]) {
    const { records, unusable } = adapter.normalize(poll(["BTC-USD"], body), CONTEXT);
    assert.deepEqual(records, []);
    assert.equal(unusable.length, 1);
    assert.match(unusable[0].problems[0], /^result: expected an object/);
  }
  const withError = adapter.normalize(
    poll(["BTC-USD"], { error: ["EService:Unavailable"] }),
    CONTEXT,
  );
  assert.deepEqual(withError.unusable[0].problems, [
    "result: expected an object, got nothing",
    'error: ["EService:Unavailable"]',
  ]);
});

Deno.test("kraken: body errors, throttled vs failed", () => {
  assert.deepEqual(adapter.bodyError(tooMany), {
    kind: "throttled",
    message: "EGeneral:Too many requests",
  });
  assert.deepEqual(adapter.bodyError(rateLimit), {
    kind: "throttled",
    message: "EAPI:Rate limit exceeded",
  });
  assert.deepEqual(adapter.bodyError(unknownPair), {
    kind: "failed",
    message: "EQuery:Unknown asset pair",
  });
  assert.deepEqual(adapter.bodyError(unavailable), {
    kind: "failed",
    message: "EService:Unavailable",
  });
  assert.deepEqual(
    adapter.bodyError({ error: ["EQuery:Unknown asset pair", "EGeneral:Internal error"] }),
    {
      kind: "failed",
      message: "EQuery:Unknown asset pair; EGeneral:Internal error",
    },
  );
  // Warnings alone do not fail a poll that has a result.
  assert.equal(adapter.bodyError({ error: ["WGeneral:Deprecated"], result: {} }), undefined);
  assert.equal(adapter.bodyError(ticker), undefined);
  for (const body of [null, [], "EGeneral:Too many requests", { error: "x" }, { error: [] }]) {
    assert.equal(adapter.bodyError(body), undefined);
  }
});

// ---- robustness ----

/** Besides the usual garbage: an error array in place of any node. */
const EXTRA_GARBAGE = [["EGeneral:Too many requests"]];

Deno.test("kraken: normalize never throws on ~500 mutated polls", () => {
  const { records, unusable } = checkMutatedPolls(adapter, CONTEXT, {
    seed: 20261124,
    runs: 500,
    poll: (random) => {
      const body = mutate(ticker, random, EXTRA_GARBAGE);
      const explicit = random() < 0.7;
      const request = explicit ? adapter.requests(SYMBOLS)[0] : { path: "/0/public/Ticker" };
      return [{ request, body }];
    },
  });
  assert.ok(records > 0 && unusable > 0, `${records} records, ${unusable} unusable`);
});
