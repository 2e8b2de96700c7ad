/**
 * CoinGecko adapter tests. The fixtures in testdata/coingecko_*.json are hand-written from the
 * documented shapes (exchange-apis.md §2) with realistic values; they are not captured data.
 */
import assert from "node:assert/strict";
import { TICKER_COLUMNS, validateTicker } from "../record/mod.ts";
import { checkMutatedPolls, checkPoll, fixture, mutate } from "./adapter_testing.ts";
import { COINGECKO_DEFAULTS, coingeckoAdapter } from "./coingecko.ts";
import type { HttpRequest, Normalized } from "./rest.ts";

type Coin = Record<string, unknown>;

const INGEST = Date.UTC(2024, 5, 1, 12, 35, 0);
const USD_SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"];

function markets(vs: string, ids: string): HttpRequest {
  return {
    path: "/coins/markets",
    query: { vs_currency: vs, ids, price_change_percentage: "1h,24h,7d", per_page: "250" },
  };
}

function run(body: unknown, vs: string, symbols: readonly string[]): Normalized {
  const request = markets(vs, "");
  return coingeckoAdapter().normalize([{ request, body }], { ingestTime: INGEST, symbols });
}

Deno.test("coingecko: defaults and the demo key header", () => {
  assert.equal(COINGECKO_DEFAULTS.baseUrl, "https://api.coingecko.com/api/v3");
  assert.equal(COINGECKO_DEFAULTS.requestsPerMinute, 10);
  assert.equal(COINGECKO_DEFAULTS.pollIntervalSecs, 60);
  const adapter = coingeckoAdapter();
  assert.equal(adapter.source, "coingecko");
  assert.deepEqual(adapter.authorize?.("CG-abc"), { "x-cg-demo-api-key": "CG-abc" });
});

Deno.test("coingecko: requests: one /coins/markets per quote, ids from the built-in map", () => {
  const adapter = coingeckoAdapter();
  assert.deepEqual(
    adapter.requests(["BTC-USD", "ETH-USD", "BTC-EUR", "DOGE-USD", "ADA-EUR", "XRP-USD"]),
    [markets("usd", "bitcoin,ethereum,dogecoin,ripple"), markets("eur", "bitcoin,cardano")],
  );
  // A base without a known id is not requested (the engine reports it missing).
  assert.deepEqual(adapter.requests(["FOO-USD", "SOL-USD"]), [markets("usd", "solana")]);
  assert.deepEqual(adapter.requests(["FOO-USD"]), []);
  // Duplicates are asked for once.
  assert.deepEqual(adapter.requests(["BTC-USD", "BTC-USD"]), [markets("usd", "bitcoin")]);
});

Deno.test("coingecko: requests: the ids option adds and overrides; > 250 ids are split", () => {
  const adapter = coingeckoAdapter({ ids: { PEPE: "pepe", BTC: "wrapped-bitcoin" } });
  assert.deepEqual(adapter.requests(["BTC-USD", "PEPE-USD", "ETH-USDT"]), [
    markets("usd", "wrapped-bitcoin,pepe"),
    markets("usdt", "ethereum"),
  ]);
  const ids: Record<string, string> = {};
  const symbols: string[] = [];
  for (let i = 0; i < 300; i++) {
    ids[`C${i}`] = `coin-${i}`;
    symbols.push(`C${i}-USD`);
  }
  const requests = coingeckoAdapter({ ids }).requests(symbols);
  assert.equal(requests.length, 2);
  assert.equal(requests[0].query?.ids?.split(",").length, 250);
  assert.equal(requests[1].query?.ids?.split(",").length, 50);
  assert.equal(requests[1].query?.ids?.split(",")[0], "coin-250");
});

Deno.test("coingecko: normalize maps /coins/markets field by field (USD)", () => {
  const body = fixture("coingecko_markets_usd.json") as Coin[];
  const { records, unusable } = run(body, "usd", USD_SYMBOLS);
  assert.deepEqual(unusable, []);
  assert.equal(records.length, 3);
  assert.deepEqual(records[0], {
    schema: "cryptopipe.ticker.v1",
    source: "coingecko",
    source_kind: "aggregator",
    channel: "rest",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "bitcoin",
    price: 67234.12,
    price_usd: 67234.12,
    usd_basis: "native",
    bid: null,
    ask: null,
    open_24h: null,
    high_24h: 68011.0,
    low_24h: 66120.5,
    volume_24h_base: null,
    volume_24h_quote: 28456123456,
    market_cap_usd: 1325612345678,
    change_pct_1h: 0.1234,
    change_pct_24h: -0.7563,
    change_pct_7d: -2.3141,
    change_window: "rolling_24h",
    event_time: Date.UTC(2024, 5, 1, 12, 34, 56, 789),
    ingest_time: INGEST,
    seq: null,
    raw: null,
  });
  const bases = ["BTC", "ETH", "SOL"];
  records.forEach((record, i) => {
    const coin = body[i];
    assert.equal(record.symbol, `${bases[i]}-USD`);
    assert.equal(record.source_symbol, coin.id);
    assert.equal(record.price, coin.current_price);
    assert.equal(record.price_usd, coin.current_price);
    assert.equal(record.usd_basis, "native");
    assert.equal(record.high_24h, coin.high_24h);
    assert.equal(record.low_24h, coin.low_24h);
    assert.equal(record.volume_24h_quote, coin.total_volume);
    assert.equal(record.market_cap_usd, coin.market_cap);
    assert.equal(record.change_pct_1h, coin.price_change_percentage_1h_in_currency);
    assert.equal(record.change_pct_24h, coin.price_change_percentage_24h);
    assert.equal(record.change_pct_7d, coin.price_change_percentage_7d_in_currency);
    assert.equal(record.event_time, Date.parse(coin.last_updated as string));
    assert.deepEqual(Object.keys(record).sort(), TICKER_COLUMNS.map((c) => c.name).sort());
    const validation = validateTicker(record);
    assert.ok(validation.ok, JSON.stringify(validation));
  });
});

Deno.test("coingecko: only a USD quote gets price_usd and market_cap_usd (EUR, USDT do not)", () => {
  const eur = run(fixture("coingecko_markets_eur.json"), "eur", ["BTC-EUR", "ETH-EUR"]);
  assert.deepEqual(eur.unusable, []);
  assert.deepEqual(eur.records.map((r) => [r.symbol, r.quote, r.price]), [
    ["BTC-EUR", "EUR", 61962.04],
    ["ETH-EUR", "EUR", 3475.61],
  ]);
  // The same body under vs_currency=usdt: USDT is not USD.
  const usdt = run(fixture("coingecko_markets_usd.json"), "usdt", ["BTC-USDT", "ETH-USDT"]);
  assert.deepEqual(usdt.records.map((r) => r.symbol), ["BTC-USDT", "ETH-USDT"]);
  // solana is in the body but not configured against USDT.
  assert.equal(usdt.unusable.length, 1);
  assert.match(usdt.unusable[0].problems[0], /"solana" is not a configured coin/);
  for (const record of [...eur.records, ...usdt.records]) {
    assert.equal(record.price_usd, null);
    assert.equal(record.usd_basis, null);
    assert.equal(record.market_cap_usd, null);
    assert.ok(validateTicker(record).ok);
  }
  // And a poll with both quotes keeps each body with its own vs_currency.
  const both = coingeckoAdapter().normalize([
    { request: markets("usd", "bitcoin"), body: fixture("coingecko_markets_usd.json") },
    { request: markets("eur", "bitcoin"), body: fixture("coingecko_markets_eur.json") },
  ], { ingestTime: INGEST, symbols: ["BTC-USD", "BTC-EUR"] });
  assert.deepEqual(both.records.map((r) => [r.symbol, r.price, r.price_usd]), [
    ["BTC-USD", 67234.12, 67234.12],
    ["BTC-EUR", 61962.04, null],
  ]);
});

Deno.test("coingecko: odd entries become Unusable naming the field", () => {
  const body = fixture("coingecko_markets_odd.json") as unknown[];
  const symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "ADA-USD"];
  const { records, unusable } = run(body, "usd", symbols);
  // A negative price is left to the engine's validator; a bad last_updated is a null time.
  assert.deepEqual(records.map((r) => [r.symbol, r.price, r.event_time]), [
    ["XRP-USD", -0.5178, Date.UTC(2024, 5, 1, 12, 34, 40)],
    ["ADA-USD", 0.4471, null],
  ]);
  const xrp = validateTicker(records[0]);
  assert.ok(!xrp.ok && xrp.problems.includes("price: must be > 0"));
  assert.ok(validateTicker(records[1]).ok);
  const expected: Array<[number, RegExp]> = [
    [0, /^current_price: missing$/],
    [1, /^current_price: expected a finite number, got "NaN"$/],
    [2, /^current_price: expected a finite number, got "abc"$/],
    [4, /^total_volume: expected a finite number, got "912345678"$/],
    [6, /^id: "pepe" is not a configured coin for vs_currency usd$/],
    [7, /^id: expected a coin id, got undefined$/],
    [8, /^coin: expected an object, got a number$/],
  ];
  assert.equal(unusable.length, expected.length);
  expected.forEach(([index, pattern], i) => {
    assert.equal(unusable[i].raw, JSON.stringify(body[index]));
    assert.equal(unusable[i].problems.length, 1, unusable[i].problems.join("; "));
    assert.match(unusable[i].problems[0], pattern);
  });
});

Deno.test("coingecko: a body that is not an array, or a request without vs_currency", () => {
  const object = run({ bitcoin: { usd: 1 } }, "usd", USD_SYMBOLS);
  assert.deepEqual(object.records, []);
  assert.deepEqual(object.unusable, [{
    raw: '{"bitcoin":{"usd":1}}',
    problems: ["body: expected an array of coins, got an object"],
  }]);
  const noVs = coingeckoAdapter().normalize(
    [{ request: { path: "/coins/markets" }, body: fixture("coingecko_markets_usd.json") }],
    { ingestTime: INGEST, symbols: USD_SYMBOLS },
  );
  assert.deepEqual(noVs.records, []);
  assert.deepEqual(noVs.unusable[0].problems, ["request: no vs_currency"]);
  // The raw text of an unusable entry is capped at 2000 characters.
  const long = run([{ id: "bitcoin", current_price: "x", name: "n".repeat(5000) }], "usd", [
    "BTC-USD",
  ]);
  assert.equal(long.unusable[0].raw.length, 2000);
});

Deno.test("coingecko: body errors (429 status body throttled, others failed)", () => {
  const { bodyError } = coingeckoAdapter();
  const throttled = bodyError(fixture("coingecko_error_429.json"));
  assert.equal(throttled?.kind, "throttled");
  assert.match(throttled?.message ?? "", /^error_code 429: You've exceeded the Rate Limit/);
  assert.deepEqual(bodyError(fixture("coingecko_error_10002.json")), {
    kind: "failed",
    message: "error_code 10002: API Key Missing",
  });
  assert.deepEqual(bodyError({ error: "invalid vs_currency" }), {
    kind: "failed",
    message: "invalid vs_currency",
  });
  for (const fine of [fixture("coingecko_markets_usd.json"), [], null, "text", 42, {}]) {
    assert.equal(bodyError(fine), undefined);
  }
});

// ---- robustness: mutated fixtures never make normalize throw ----

Deno.test("coingecko: normalize never throws on 500 mutated bodies", () => {
  const adapter = coingeckoAdapter();
  const context = { ingestTime: INGEST, symbols: USD_SYMBOLS };
  const request = markets("usd", "bitcoin");
  const bodies = [fixture("coingecko_markets_usd.json"), fixture("coingecko_markets_odd.json")];
  const outcome = checkMutatedPolls(adapter, context, {
    seed: 20240601,
    runs: 500,
    poll: (random, i) => [{ request, body: mutate(bodies[i % 2], random) }],
  });
  for (const odd of [null, 42, "x", [], {}, [[]], [null], { status: null }, { status: [] }]) {
    checkPoll(adapter, [{ request, body: odd }], context, outcome);
  }
  const noVs = { path: "/coins/markets", query: {} };
  checkPoll(
    adapter,
    [{ request: noVs, body: fixture("coingecko_markets_usd.json") }],
    context,
    outcome,
  );
  // The mutations really did hit both paths.
  const { records, unusable } = outcome;
  assert.ok(records > 100 && unusable > 100, `${records} records, ${unusable} unusable`);
});
