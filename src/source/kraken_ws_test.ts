/**
 * Kraken WebSocket v2 adapter tests. testdata/kraken_ws_messages.json was written by hand from
 * the v2 shapes in exchange-apis.md §8 (status, subscribe ack and error, ticker snapshot and
 * update, heartbeat, pong) with realistic values; NOT captured from the live feed. The
 * `timestamp` on one update is there because its presence is UNCONFIRMED: it is read if sent.
 */
import assert from "node:assert/strict";
import { validateTicker } from "../record/mod.ts";
import {
  KRAKEN_PING_MS,
  KRAKEN_WS_DEFAULTS,
  krakenSubscribe,
  krakenWsAdapter,
  parseKrakenWs,
} from "./kraken_ws.ts";
import messages from "./testdata/kraken_ws_messages.json" with { type: "json" };
import { checkMutatedMessages } from "./ws_testing.ts";

const INGEST = Date.UTC(2026, 10, 24, 12, 0, 1);
const CONTEXT = { ingestTime: INGEST, symbols: ["BTC-USD", "DOGE-USD"] };
const parse = (message: unknown) => parseKrakenWs(JSON.stringify(message), CONTEXT);

Deno.test("kraken ws: defaults, a ticker subscribe with a snapshot, a ping every 20 s", () => {
  assert.equal(KRAKEN_WS_DEFAULTS.url, "wss://ws.kraken.com/v2");
  assert.deepEqual(krakenSubscribe(["BTC-USD", "DOGE-USD"]).map((m) => JSON.parse(m)), [{
    method: "subscribe",
    params: {
      channel: "ticker",
      symbol: ["BTC/USD", "DOGE/USD"],
      event_trigger: "trades",
      snapshot: true,
    },
    req_id: 1,
  }]);
  const adapter = krakenWsAdapter();
  assert.equal(adapter.keepAlive?.intervalMs, KRAKEN_PING_MS);
  assert.ok(KRAKEN_PING_MS <= 30_000, "well inside Kraken's one-minute idle cut");
  assert.deepEqual(JSON.parse(adapter.keepAlive!.message(1)), { method: "ping", req_id: 2 });
});

Deno.test("kraken ws: a snapshot maps field by field; event_time is null without a timestamp", () => {
  const { records, unusable } = parse(messages.ticker_snapshot);
  assert.deepEqual(unusable, []);
  assert.equal(records?.length, 2);
  for (const record of records!) assert.ok(validateTicker(record).ok);
  assert.deepEqual(records![0], {
    schema: "cryptopipe.ticker.v1",
    source: "kraken",
    source_kind: "exchange",
    channel: "ws",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "BTC/USD",
    price: 97012.4,
    price_usd: 97012.4,
    usd_basis: "native",
    bid: 97012.3,
    ask: 97012.4,
    open_24h: null,
    high_24h: 97850,
    low_24h: 95411.2,
    volume_24h_base: 1534.61,
    volume_24h_quote: 1534.61 * 96412.8,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: 1.27,
    change_pct_7d: null,
    change_window: "rolling_24h",
    event_time: null,
    ingest_time: INGEST,
    seq: null,
    raw: null,
  });
  assert.equal(records![1].symbol, "DOGE-USD");
  assert.equal(records![1].change_pct_24h, -0.81);
});

Deno.test("kraken ws: a timestamp, when present, is the event time; XBT still maps to BTC", () => {
  const [update] = parse(messages.ticker_update_with_timestamp).records!;
  assert.equal(update.event_time, Date.UTC(2026, 10, 24, 12, 0, 1, 234));
  const entry = { ...messages.ticker_snapshot.data[0], symbol: "XBT/USD" };
  const [xbt] = parse({ channel: "ticker", type: "update", data: [entry] }).records!;
  assert.equal(xbt.symbol, "BTC-USD");
  assert.equal(xbt.source_symbol, "XBT/USD");
});

Deno.test("kraken ws: status, acks, heartbeats and pongs give nothing; a refused subscribe is a notice", () => {
  for (
    const quiet of [messages.status, messages.subscribe_ack, messages.heartbeat, messages.pong]
  ) {
    assert.deepEqual(parse(quiet), {});
  }
  assert.deepEqual(parse(messages.subscribe_error), {
    notices: ['kraken subscribe refused: "Currency pair not supported XYZ/USD"'],
  });
});

Deno.test("kraken ws: odd entries become unusable with reasons; good ones in the same message survive", () => {
  const [btc, doge] = messages.ticker_snapshot.data;
  const { records, unusable } = parse({
    channel: "ticker",
    type: "update",
    data: [
      { ...btc, last: "97012.4" },
      { ...btc, last: undefined },
      { ...btc, symbol: "ETH/USD" },
      { ...btc, symbol: "BTCUSD" },
      { ...btc, bid: null, ask: {}, timestamp: "yesterday" },
      "oops",
      doge,
    ],
  });
  assert.deepEqual(records?.map((r) => r.symbol), ["DOGE-USD"]);
  assert.deepEqual(unusable?.map((u) => u.problems.join(" | ")), [
    'last: expected a finite number, got "97012.4"',
    "last: missing",
    "symbol: ETH-USD is not a configured symbol",
    'symbol: expected BASE/QUOTE, got "BTCUSD"',
    'ask: expected a finite number, got {} | timestamp: not an RFC-3339 time: "yesterday"',
    "ticker: expected an object, got a string",
  ]);
  const whole = (message: unknown) => parse(message).unusable?.[0].problems;
  assert.deepEqual(whole({ channel: "ticker", data: "nope" }), [
    "data: expected an array, got a string",
  ]);
  assert.deepEqual(whole({ foo: 1 }), ["not a Kraken v2 message: no channel or method"]);
  assert.deepEqual(whole(null), ["expected an object, got null"]);
  assert.deepEqual(
    parseKrakenWs('{"channel":"ticker","data":[{"symbol":"BTC/USD","last":NaN}]}', CONTEXT)
      .unusable?.[0].problems,
    ['not JSON: {"channel":"ticker","data":[{"symbol":"BTC/USD","last":NaN}]}'],
  );
});

Deno.test("kraken ws: parse never throws on ~1000 mutated messages", () => {
  const { records, unusable } = checkMutatedMessages(parseKrakenWs, CONTEXT, [
    messages.ticker_snapshot,
    messages.ticker_update_with_timestamp,
    messages.subscribe_ack,
    messages.heartbeat,
  ], { seed: 20261124, runs: 1000, extra: ["BTC/USD", "XBT/USD", "ticker"] });
  assert.ok(records > 0 && unusable > 0, `${records} records, ${unusable} unusable`);
});
