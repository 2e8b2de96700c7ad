/**
 * CryptoCompare adapter tests. The fixtures in testdata/cryptocompare_*.json are hand-written
 * from the documented shapes (exchange-apis.md §4) with realistic values; they are not
 * captured data.
 */
import assert from "node:assert/strict";
import { TICKER_COLUMNS, validateTicker } from "../record/mod.ts";
import { checkMutatedPolls, checkPoll, fixture, mutate } from "./adapter_testing.ts";
import { CRYPTOCOMPARE_DEFAULTS, cryptocompareAdapter } from "./cryptocompare.ts";
import type { HttpRequest, Normalized } from "./rest.ts";

type Raw = Record<string, Record<string, Record<string, unknown>>>;

const INGEST = Date.UTC(2024, 5, 1, 12, 35, 0);
const SYMBOLS = ["BTC-USD", "BTC-USDT", "ETH-USD", "ETH-USDT"];
const REQUEST: HttpRequest = {
  path: "/data/pricemultifull",
  query: { fsyms: "BTC,ETH", tsyms: "USD,USDT" },
};

function run(body: unknown, symbols: readonly string[] = SYMBOLS): Normalized {
  return cryptocompareAdapter().normalize([{ request: REQUEST, body }], {
    ingestTime: INGEST,
    symbols,
  });
}

Deno.test("cryptocompare: defaults and the Apikey authorization header", () => {
  assert.equal(CRYPTOCOMPARE_DEFAULTS.baseUrl, "https://min-api.cryptocompare.com");
  assert.equal(CRYPTOCOMPARE_DEFAULTS.requestsPerMinute, 60);
  assert.equal(CRYPTOCOMPARE_DEFAULTS.pollIntervalSecs, 10);
  const adapter = cryptocompareAdapter();
  assert.equal(adapter.source, "cryptocompare");
  assert.deepEqual(adapter.authorize?.("k123"), { authorization: "Apikey k123" });
});

Deno.test("cryptocompare: requests: one pricemultifull per distinct quote set", () => {
  const adapter = cryptocompareAdapter();
  assert.deepEqual(adapter.requests(SYMBOLS), [REQUEST]);
  // Quote order does not split a group; the first base's order is kept.
  assert.deepEqual(adapter.requests(["BTC-USD", "BTC-USDT", "ETH-USDT", "ETH-USD"]), [REQUEST]);
  // Different quote sets: no request asks for a pair that is not configured.
  assert.deepEqual(adapter.requests(["BTC-USD", "ETH-USD", "BTC-EUR", "SOL-USD"]), [
    { path: "/data/pricemultifull", query: { fsyms: "BTC", tsyms: "USD,EUR" } },
    { path: "/data/pricemultifull", query: { fsyms: "ETH,SOL", tsyms: "USD" } },
  ]);
  assert.deepEqual(adapter.requests(["BTC-USD", "BTC-USD"]), [
    { path: "/data/pricemultifull", query: { fsyms: "BTC", tsyms: "USD" } },
  ]);
  assert.deepEqual(adapter.requests([]), []);
  // fsyms longer than 300 characters are split.
  const many = Array.from({ length: 100 }, (_, i) => `C${String(i).padStart(2, "0")}-USD`);
  const fsyms = adapter.requests(many).map((r) => r.query?.fsyms ?? "");
  assert.deepEqual(fsyms.map((f) => f.split(",").length), [75, 25]);
  assert.ok(fsyms.every((f) => f.length <= 300));
});

Deno.test("cryptocompare: normalize maps RAW.F.T field by field", () => {
  const body = fixture("cryptocompare_pricemultifull.json") as { RAW: Raw };
  const { records, unusable } = run(body);
  assert.deepEqual(unusable, []);
  assert.deepEqual(records.map((r) => r.symbol), SYMBOLS);
  assert.deepEqual(records[0], {
    schema: "cryptopipe.ticker.v1",
    source: "cryptocompare",
    source_kind: "aggregator",
    channel: "rest",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "BTC-USD",
    price: 67230.55,
    price_usd: 67230.55,
    usd_basis: "native",
    bid: null,
    ask: null,
    open_24h: 67741.2,
    high_24h: 68020.3,
    low_24h: 66115.7,
    volume_24h_base: 31234.5,
    volume_24h_quote: 2094412345.6,
    market_cap_usd: 1324922456789.2,
    change_pct_1h: null,
    change_pct_24h: -0.7538,
    change_pct_7d: null,
    change_window: "rolling_24h",
    event_time: 1717245290000,
    ingest_time: INGEST,
    seq: null,
    raw: null,
  });
  for (const record of records) {
    const data = body.RAW[record.base][record.quote];
    assert.equal(record.source_symbol, `${data.FROMSYMBOL}-${data.TOSYMBOL}`);
    assert.equal(record.price, data.PRICE);
    assert.equal(record.event_time, (data.LASTUPDATE as number) * 1000);
    assert.equal(record.volume_24h_base, data.VOLUME24HOUR);
    assert.equal(record.volume_24h_quote, data.VOLUME24HOURTO);
    assert.equal(record.open_24h, data.OPEN24HOUR);
    assert.equal(record.high_24h, data.HIGH24HOUR);
    assert.equal(record.low_24h, data.LOW24HOUR);
    assert.equal(record.change_pct_24h, data.CHANGEPCT24HOUR);
    assert.deepEqual(Object.keys(record).sort(), TICKER_COLUMNS.map((c) => c.name).sort());
    const validation = validateTicker(record);
    assert.ok(validation.ok, JSON.stringify(validation));
  }
});

Deno.test("cryptocompare: only TOSYMBOL USD gets price_usd and market_cap_usd", () => {
  const body = fixture("cryptocompare_pricemultifull.json") as { RAW: Raw };
  const bySymbol = new Map(run(body).records.map((r) => [r.symbol, r]));
  for (const base of ["BTC", "ETH"]) {
    const usd = bySymbol.get(`${base}-USD`)!;
    assert.equal(usd.price_usd, usd.price);
    assert.equal(usd.usd_basis, "native");
    assert.equal(usd.market_cap_usd, body.RAW[base].USD.MKTCAP);
    const usdt = bySymbol.get(`${base}-USDT`)!;
    assert.equal(usdt.quote, "USDT");
    assert.equal(usdt.price, body.RAW[base].USDT.PRICE);
    assert.equal(usdt.price_usd, null);
    assert.equal(usdt.usd_basis, null);
    assert.equal(usdt.market_cap_usd, null);
  }
  // Only configured pairs: the others in the body are skipped, not reported.
  const some = run(body, ["BTC-USDT", "ETH-USD"]);
  assert.deepEqual(some.records.map((r) => r.symbol), ["BTC-USDT", "ETH-USD"]);
  assert.deepEqual(some.unusable, []);
});

Deno.test("cryptocompare: odd pairs become Unusable naming the field", () => {
  const body = fixture("cryptocompare_pricemultifull_odd.json") as { RAW: Raw };
  const symbols = [...SYMBOLS, "SOL-USD", "SOL-USDT", "XRP-USD", "DOGE-USD"];
  const { records, unusable } = run(body, symbols);
  // A negative price is left to the engine's validator. DOGE-EUR is not configured.
  assert.deepEqual(records.map((r) => [r.symbol, r.price, r.event_time]), [
    ["SOL-USD", -166.91, 1717245287000],
  ]);
  const sol = validateTicker(records[0]);
  assert.ok(!sol.ok && sol.problems.includes("price: must be > 0"));
  const expected: Array<[unknown, string]> = [
    [body.RAW.BTC.USD, "RAW.BTC.USD.PRICE: missing"],
    [body.RAW.BTC.USDT, 'RAW.BTC.USDT.PRICE: expected a finite number, got "NaN"'],
    [body.RAW.ETH.USD, 'RAW.ETH.USD.PRICE: expected a finite number, got "abc"'],
    [
      body.RAW.ETH.USDT,
      'RAW.ETH.USDT.LASTUPDATE: expected a finite number, got "1717245289"',
    ],
    [body.RAW.SOL.USDT, 'RAW.SOL.USDT.FROMSYMBOL: "DOGE" does not match the key "SOL"'],
    [body.RAW.XRP, "RAW.XRP: expected an object, got a string"],
  ];
  assert.deepEqual(
    unusable,
    expected.map(([raw, problem]) => ({ raw: JSON.stringify(raw), problems: [problem] })),
  );
  // Bodies without RAW (an error body given to normalize anyway) are one Unusable each.
  const error = run(fixture("cryptocompare_error_2.json"));
  assert.deepEqual(error.records, []);
  assert.deepEqual(error.unusable[0].problems, [
    "RAW: expected an object of FSYM → TSYM → data (RAW is missing)",
  ]);
  assert.deepEqual(run([1, 2]).unusable[0].problems, [
    "RAW: expected an object of FSYM → TSYM → data (body is an array)",
  ]);
  // The raw text is capped at 2000 characters.
  const long = run({ RAW: { BTC: { USD: { PRICE: "x", PAD: "p".repeat(3000) } } } });
  assert.equal(long.unusable[0].raw.length, 2000);
});

Deno.test("cryptocompare: body errors (Type 99 throttled, Type 2 failed)", () => {
  const { bodyError } = cryptocompareAdapter();
  assert.deepEqual(bodyError(fixture("cryptocompare_error_99.json")), {
    kind: "throttled",
    message: "Type 99: You are over your rate limit please upgrade your account!",
  });
  assert.deepEqual(bodyError(fixture("cryptocompare_error_2.json")), {
    kind: "failed",
    message: "Type 2: cccagg_or_exchange market does not exist for this coin pair (XYZ-USD)",
  });
  assert.deepEqual(bodyError({ Response: "Error" }), {
    kind: "failed",
    message: "(no message)",
  });
  const fine = [fixture("cryptocompare_pricemultifull.json"), { Response: "Success" }, null, []];
  for (const body of fine) assert.equal(bodyError(body), undefined);
});

// ---- robustness: mutated fixtures never make normalize throw ----

Deno.test("cryptocompare: normalize never throws on 500 mutated bodies", () => {
  const adapter = cryptocompareAdapter();
  const symbols = [...SYMBOLS, "SOL-USD", "SOL-USDT", "XRP-USD", "DOGE-USD"];
  const context = { ingestTime: INGEST, symbols };
  // The DISPLAY section dilutes mutations of the good fixture: drop it so RAW gets hit.
  const good = fixture("cryptocompare_pricemultifull.json") as Record<string, unknown>;
  delete good.DISPLAY;
  const bodies = [good, fixture("cryptocompare_pricemultifull_odd.json")];
  const outcome = checkMutatedPolls(adapter, context, {
    seed: 20240603,
    runs: 500,
    poll: (random, i) => [{ request: REQUEST, body: mutate(bodies[i % 2], random) }],
  });
  const odd = [null, 42, "x", [], {}, { RAW: null }, { RAW: [] }, { RAW: { BTC: [] } }];
  for (const body of odd) checkPoll(adapter, [{ request: REQUEST, body }], context, outcome);
  const error = { RAW: { BTC: { USD: null, USDT: [] } }, Response: "Error", Type: {} };
  checkPoll(adapter, [{ request: REQUEST, body: error }], context, outcome);
  const { records, unusable } = outcome;
  assert.ok(records > 100 && unusable > 100, `${records} records, ${unusable} unusable`);
});
