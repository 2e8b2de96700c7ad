/**
 * Coinbase Exchange WebSocket adapter tests. testdata/coinbase_ws_messages.json was written by
 * hand from the `ticker`, `heartbeat`, `subscriptions` and `error` shapes in exchange-apis.md
 * §8 with realistic values; NOT captured from the live feed.
 */
import assert from "node:assert/strict";
import { validateTicker } from "../record/mod.ts";
import {
  COINBASE_WS_DEFAULTS,
  coinbaseSubscribe,
  coinbaseWsAdapter,
  parseCoinbaseWs,
} from "./coinbase_ws.ts";
import messages from "./testdata/coinbase_ws_messages.json" with { type: "json" };
import { checkMutatedMessages } from "./ws_testing.ts";

const INGEST = Date.UTC(2026, 10, 24, 12, 0, 1);
const CONTEXT = { ingestTime: INGEST, symbols: ["BTC-USD", "BTC-USDT", "MUSE-USD"] };
const parse = (message: unknown) => parseCoinbaseWs(JSON.stringify(message), CONTEXT);

Deno.test("coinbase ws: defaults, one subscribe to ticker + heartbeat, no client ping", () => {
  assert.equal(COINBASE_WS_DEFAULTS.url, "wss://ws-feed.exchange.coinbase.com");
  assert.equal(COINBASE_WS_DEFAULTS.maxConnectionSecs, undefined);
  assert.deepEqual(coinbaseSubscribe(["BTC-USD", "ETH-USD", "BTC-USD"]).map((m) => JSON.parse(m)), [
    {
      type: "subscribe",
      product_ids: ["BTC-USD", "ETH-USD"],
      channels: ["ticker", "heartbeat"],
    },
  ]);
  const adapter = coinbaseWsAdapter();
  assert.equal(adapter.url(COINBASE_WS_DEFAULTS.url, ["BTC-USD"]), COINBASE_WS_DEFAULTS.url);
  assert.equal(adapter.keepAlive, undefined, "the heartbeat channel keeps it alive");
});

Deno.test("coinbase ws: ticker maps field by field; its sequence is tracked per product", () => {
  const { records, unusable, sequences } = parse(messages.ticker_btc_usd);
  assert.deepEqual(unusable ?? [], []);
  assert.deepEqual(sequences, [{ stream: "ticker:BTC-USD", symbol: "BTC-USD", seq: 37475248783 }]);
  assert.ok(validateTicker(records![0]).ok);
  assert.deepEqual(records![0], {
    schema: "cryptopipe.ticker.v1",
    source: "coinbase",
    source_kind: "exchange",
    channel: "ws",
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
    seq: 37475248783,
    raw: null,
  });
});

Deno.test("coinbase ws: an illiquid ticker (no time, open, high, low) still yields a record", () => {
  const [muse] = parse(messages.ticker_illiquid).records!;
  assert.ok(validateTicker(muse).ok);
  assert.equal(muse.price, 0.051);
  assert.equal(muse.event_time, null);
  assert.equal(muse.open_24h, null);
  assert.equal(muse.change_pct_24h, null);
  assert.equal(muse.seq, 9012);
  const bare = parse({ type: "ticker", product_id: "BTC-USD", price: "97000" });
  assert.equal(bare.records?.length, 1);
  assert.deepEqual(bare.sequences, []);
});

Deno.test("coinbase ws: heartbeats give a sequence only; acks, errors and unknown types no record", () => {
  assert.deepEqual(parse(messages.heartbeat_btc_usd), {
    sequences: [{ stream: "heartbeat:BTC-USD", symbol: "BTC-USD", seq: 90 }],
  });
  assert.deepEqual(parse(messages.subscriptions), {});
  assert.deepEqual(parse(messages.unknown_type), {});
  assert.deepEqual(parse(messages.error), {
    notices: ['coinbase error: "Failed to subscribe" ("XYZ-USD is not a valid product")'],
  });
});

Deno.test("coinbase ws: odd messages become unusable with reasons; a bad ticker's sequence still counts", () => {
  const bad = (message: unknown) => parse(message).unusable?.map((u) => u.problems.join(" | "));
  const ticker = messages.ticker_btc_usd;
  assert.deepEqual(bad({ ...ticker, price: "NaN" }), ['price: not a finite number: "NaN"']);
  assert.deepEqual(parse({ ...ticker, price: "NaN" }).sequences?.[0].seq, ticker.sequence);
  assert.deepEqual(bad({ ...ticker, price: undefined }), ["price: missing"]);
  assert.deepEqual(bad({ ...ticker, time: 1732449600, sequence: "x" }), [
    'sequence: not an integer: "x" | time: not an ISO-8601 UTC time: 1732449600',
  ]);
  assert.deepEqual(bad({ ...ticker, product_id: "ETH-USD" }), [
    "product_id: ETH-USD is not a configured symbol",
  ]);
  assert.deepEqual(bad({ ...ticker, product_id: "BTCUSD" }), [
    'product_id: expected BASE-QUOTE, got "BTCUSD"',
  ]);
  assert.deepEqual(bad({ ...messages.heartbeat_btc_usd, sequence: "abc" }), [
    'sequence: expected an integer, got "abc"',
  ]);
  assert.deepEqual(bad({ no: "type" }), ["expected a message with a type, got type undefined"]);
  assert.deepEqual(bad([1]), ["expected a message with a type, got an array"]);
  assert.deepEqual(parseCoinbaseWs("{truncated", CONTEXT).unusable?.[0].problems, [
    "not JSON: {truncated",
  ]);
});

Deno.test("coinbase ws: parse never throws on ~1000 mutated messages", () => {
  const { records, unusable } = checkMutatedMessages(parseCoinbaseWs, CONTEXT, [
    messages.ticker_btc_usd,
    messages.ticker_illiquid,
    messages.heartbeat_btc_usd,
    messages.subscriptions,
  ], { seed: 20261124, runs: 1000, extra: ["ticker", "heartbeat", "2026-11-24T12:00:00.1"] });
  assert.ok(records > 0 && unusable > 0, `${records} records, ${unusable} unusable`);
});
