/**
 * Binance WebSocket adapter tests. testdata/binance_ws_messages.json was written by hand from
 * the `@ticker` combined-stream shape in exchange-apis.md §8 (and Binance's
 * web-socket-streams.md field letters) with realistic values; NOT captured from the live feed.
 */
import assert from "node:assert/strict";
import { validateTicker } from "../record/mod.ts";
import {
  BINANCE_WS_DEFAULTS,
  binanceStreamUrl,
  binanceWsAdapter,
  parseBinanceWs,
} from "./binance_ws.ts";
import messages from "./testdata/binance_ws_messages.json" with { type: "json" };
import { checkMutatedMessages } from "./ws_testing.ts";

const INGEST = Date.UTC(2026, 10, 24, 12, 0, 1);
const CONTEXT = { ingestTime: INGEST, symbols: ["BTC-USDT", "ETH-USDT"] };
const parse = (message: unknown) => parseBinanceWs(JSON.stringify(message), CONTEXT);

Deno.test("binance ws: defaults, and one combined stream URL for every symbol, nothing sent", () => {
  assert.equal(BINANCE_WS_DEFAULTS.url, "wss://stream.binance.com:9443");
  assert.equal(BINANCE_WS_DEFAULTS.maxConnectionSecs, 23.5 * 3600);
  assert.equal(
    binanceStreamUrl("wss://stream.binance.com:9443/", ["BTC-USDT", "ETH-USDT", "BTC-USDT"]),
    "wss://stream.binance.com:9443/stream?streams=btcusdt@ticker/ethusdt@ticker",
  );
  const adapter = binanceWsAdapter();
  assert.equal(adapter.source, "binance");
  assert.deepEqual(adapter.subscribe(["BTC-USDT"]), []);
  assert.equal(adapter.keepAlive, undefined, "server pings are answered by the runtime");
});

Deno.test("binance ws: @ticker maps field by field and validates", () => {
  const { records, unusable } = parse(messages.ticker_btcusdt);
  assert.deepEqual(unusable ?? [], []);
  assert.equal(records?.length, 1);
  assert.ok(validateTicker(records![0]).ok);
  assert.deepEqual(records![0], {
    schema: "cryptopipe.ticker.v1",
    source: "binance",
    source_kind: "exchange",
    channel: "ws",
    symbol: "BTC-USDT",
    base: "BTC",
    quote: "USDT",
    source_symbol: "BTCUSDT",
    price: 97012.35,
    price_usd: null,
    usd_basis: null,
    bid: 97012.34,
    ask: 97012.35,
    open_24h: 95800.01,
    high_24h: 97850,
    low_24h: 95411.22,
    volume_24h_base: 18151.12345,
    volume_24h_quote: 1750012345.6789,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: 1.265,
    change_pct_7d: null,
    change_window: "rolling_24h",
    event_time: Date.UTC(2026, 10, 24, 12, 0, 0, 123),
    ingest_time: INGEST,
    seq: 4101234567,
    raw: null,
  });
});

Deno.test("binance ws: an empty book side and 'no trades' (L = -1) become null", () => {
  const [eth] = parse(messages.ticker_ethusdt_empty_book).records!;
  assert.ok(validateTicker(eth).ok);
  assert.equal(eth.bid, null);
  assert.equal(eth.ask, null);
  assert.equal(eth.seq, null);
  assert.equal(eth.change_pct_24h, -0.75);
  assert.equal(eth.volume_24h_base, 0);
});

Deno.test("binance ws: serverShutdown asks for a reconnect; replies and new events are quiet", () => {
  assert.match(parse(messages.server_shutdown).reconnect ?? "", /serverShutdown/);
  assert.match(
    parse({ stream: "btcusdt@ticker", data: messages.server_shutdown }).reconnect ?? "",
    /serverShutdown/,
  );
  assert.deepEqual(parse(messages.subscribe_reply), {});
  assert.deepEqual(parse(messages.other_event), {});
  assert.match(parse(messages.error_reply).notices?.[0] ?? "", /Invalid request/);
});

Deno.test("binance ws: odd messages become unusable with reasons, kept raw", () => {
  const bad = (message: unknown) => parse(message).unusable?.map((u) => u.problems.join(" | "));
  assert.deepEqual(bad(messages.ticker_unknown_symbol), [
    's: "SOLUSDT" is not one of the configured symbols',
  ]);
  const ticker = messages.ticker_btcusdt.data;
  assert.deepEqual(bad({ stream: "x", data: { ...ticker, c: "NaN" } }), [
    'c: expected a finite decimal, got "NaN"',
  ]);
  assert.deepEqual(bad({ stream: "x", data: { ...ticker, c: undefined } }), [
    "c: missing",
  ]);
  assert.deepEqual(bad({ stream: "x", data: { ...ticker, E: "soon", L: 1.5 } }), [
    'E: expected an integer, got "soon" | L: expected an integer, got 1.5',
  ]);
  assert.deepEqual(bad({ stream: "x", data: "garbage" }), [
    "event: expected an object, got a string",
  ]);
  assert.deepEqual(bad({ hello: "world" }), ["not a Binance event: no `e` field"]);
  const notJson = parseBinanceWs("{oops", CONTEXT).unusable![0];
  assert.deepEqual(notJson, { raw: "{oops", problems: ["not JSON: {oops"] });
  assert.equal(parseBinanceWs("x".repeat(5000), CONTEXT).unusable![0].raw.length, 2000);
});

Deno.test("binance ws: parse never throws on ~1000 mutated messages", () => {
  const { records, unusable } = checkMutatedMessages(parseBinanceWs, CONTEXT, [
    messages.ticker_btcusdt,
    messages.ticker_ethusdt_empty_book,
    messages.server_shutdown,
    messages.subscribe_reply,
  ], { seed: 20261124, runs: 1000, extra: ["BTCUSDT", "24hrTicker"] });
  assert.ok(records > 0 && unusable > 0, `${records} records, ${unusable} unusable`);
});
