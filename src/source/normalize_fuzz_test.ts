/**
 * Fuzzing every source normalizer (fast-check, fixed seed, bounded runs): each REST adapter's
 * normalize and bodyError on random JSON bodies and on its testdata payloads with random parts
 * replaced or deleted (paired with the adapter's own requests, or with random ones), and each
 * WebSocket parser on random text, random JSON and mutated testdata messages. They never
 * throw (bad input becomes an Unusable for the rejects topic), never hang, and every record
 * they make has exactly the ticker v1 columns and a configured symbol (checkPoll and the
 * checks below).
 */
import assert from "node:assert/strict";
import { TICKER_COLUMNS } from "../record/mod.ts";
import { fc, fuzzParameters, typedOnly } from "../fuzz_testing.ts";
import { checkPoll, fixture, mutate, type Outcome } from "./adapter_testing.ts";
import { binanceAdapter } from "./binance.ts";
import { parseBinanceWs } from "./binance_ws.ts";
import { coinbaseAdapter } from "./coinbase.ts";
import { parseCoinbaseWs } from "./coinbase_ws.ts";
import { coingeckoAdapter } from "./coingecko.ts";
import { cryptocompareAdapter } from "./cryptocompare.ts";
import { MAX_RAW_CHARS } from "./fields.ts";
import { krakenAdapter } from "./kraken.ts";
import { parseKrakenWs } from "./kraken_ws.ts";
import type { HttpRequest, RestAdapter } from "./rest.ts";
import { seededRandom } from "./simulated.ts";
import type { WsContext, WsParsed } from "./ws.ts";

const INGEST = Date.UTC(2024, 5, 1, 12, 35, 0);
const testdata = (prefix: string) =>
  [...Deno.readDirSync(new URL("./testdata/", import.meta.url))]
    .map((e) => e.name)
    .filter((n) => n.startsWith(prefix) && !n.includes("_ws_"))
    .sort()
    .map(fixture);

const REST: ReadonlyArray<readonly [string, () => RestAdapter, readonly string[]]> = [
  ["coingecko", () => coingeckoAdapter(), ["BTC-USD", "ETH-USD", "SOL-USD", "BTC-EUR"]],
  ["binance", () => binanceAdapter(), ["BTC-USDT", "ETH-USDT", "SOL-USDC"]],
  ["cryptocompare", () => cryptocompareAdapter(), ["BTC-USD", "BTC-USDT", "ETH-USD", "ETH-USDT"]],
  ["coinbase", () => coinbaseAdapter(), ["BTC-USD", "BTC-USDT", "MUSE-USD"]],
  ["kraken", () => krakenAdapter(), ["BTC-USD", "ETH-USD", "DOGE-USD", "BTC-USDT", "ETH-BTC"]],
];

/** A random request, for bodies paired with a path or query the adapter did not ask for. */
const randomRequest: fc.Arbitrary<HttpRequest> = fc.record({
  path: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("/", "/products/BTC-USD/ticker")),
  query: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
});

for (const [name, make, symbols] of REST) {
  Deno.test(`source fuzz: ${name} normalize never throws on random and mutated bodies`, () => {
    const adapter = make();
    const fixtures = testdata(name);
    assert.ok(fixtures.length >= 2, `${name} has testdata`);
    const requests = adapter.requests(symbols);
    const context = { ingestTime: INGEST, symbols };
    const outcome: Outcome = { records: 0, unusable: 0 };
    const body = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.tuple(fc.constantFrom(...fixtures), fc.integer()).map(([f, seed]) =>
          mutate(f, seededRandom(seed))
        ),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
      { weight: 1, arbitrary: fc.constantFrom(...fixtures) },
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...requests) }, {
              weight: 1,
              arbitrary: randomRequest,
            }),
            body,
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (poll) => {
          const responses = poll.map(([request, body]) => ({ request, body }));
          const result = typedOnly(
            () => checkPoll(adapter, responses, context, outcome),
            responses,
          );
          assert.ok(!(result instanceof Error), "normalize never throws, not even a typed error");
        },
      ),
      fuzzParameters(600),
    );
    assert.ok(
      outcome.records > 0 && outcome.unusable > 0,
      `${name}: inputs reached both paths (${JSON.stringify(outcome)})`,
    );
  });
}

const WS: ReadonlyArray<
  readonly [string, (text: string, context: WsContext) => WsParsed, readonly string[]]
> = [
  ["binance_ws", parseBinanceWs, ["BTC-USDT", "ETH-USDT"]],
  ["coinbase_ws", parseCoinbaseWs, ["BTC-USD", "BTC-USDT", "MUSE-USD"]],
  ["kraken_ws", parseKrakenWs, ["BTC-USD", "DOGE-USD"]],
];
const COLUMNS = TICKER_COLUMNS.map((c) => c.name).sort();

for (const [name, parse, symbols] of WS) {
  Deno.test(`source fuzz: ${name} parse never throws on random text, random JSON and mutated messages`, () => {
    const messages = Object.values(fixture(`${name}_messages.json`) as Record<string, unknown>);
    const context = { ingestTime: INGEST, symbols };
    let records = 0;
    let unusable = 0;
    const text = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.tuple(fc.constantFrom(...messages), fc.integer()).map(([m, seed]) =>
          JSON.stringify(mutate(m, seededRandom(seed)))
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom(...messages).map((m) => JSON.stringify(m)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
    );
    fc.assert(
      fc.property(text, (message) => {
        const out = typedOnly(() => parse(message, context), message);
        assert.ok(!(out instanceof Error), "parse never throws, not even a typed error");
        for (const record of out.records ?? []) {
          assert.deepEqual(Object.keys(record).sort(), COLUMNS);
          assert.ok(symbols.includes(record.symbol), record.symbol);
          records++;
        }
        for (const item of out.unusable ?? []) {
          assert.ok(item.raw.length <= MAX_RAW_CHARS && item.problems.length > 0);
          unusable++;
        }
        for (const mark of out.sequences ?? []) assert.ok(Number.isSafeInteger(mark.seq));
      }),
      fuzzParameters(1000),
    );
    assert.ok(records > 0 && unusable > 0, `${name}: ${records} records, ${unusable} unusable`);
  });
}
