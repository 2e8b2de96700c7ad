/**
 * Binance Spot WebSocket adapter (exchange-apis.md §8, §9): one combined stream,
 * `/stream?streams=btcusdt@ticker/ethusdt@ticker`, whose events arrive wrapped as
 * `{"stream":…,"data":{…}}`. The streams are in the URL, so nothing is sent after connecting
 * (Binance counts every client message against 5 per second). Server pings are answered by
 * the runtime's WebSocket; `{"e":"serverShutdown"}` asks for an immediate reconnect.
 *
 * `@ticker` fields (decimal strings unless noted): `c` last, `o` open, `h`, `l`, `v` base
 * volume, `q` quote volume, `P` change %, `b`/`a` best bid/ask, `E` event ms (integer) →
 * event_time, `L` last trade id (integer) → seq. Only `c` is required. Trade ids jump between
 * one-second tickers, so `L` is not checked for gaps.
 */
import type { TickerRecord } from "../record/mod.ts";
import { binanceSymbol } from "./binance.ts";
import {
  decimalNumber,
  isObject,
  kindOf,
  optional,
  preview,
  type Problems,
  reject,
  restTicker,
  safeInteger,
} from "./fields.ts";
import { joinSymbol, type SymbolParts } from "./symbols.ts";
import {
  jsonMessage,
  type WsAdapter,
  type WsContext,
  type WsDefaults,
  type WsParsed,
} from "./ws.ts";

export const BINANCE_WS_DEFAULTS: WsDefaults = {
  url: "wss://stream.binance.com:9443",
  /** Binance cuts every connection at 24 h; renewing it at 23.5 h is on our terms. */
  maxConnectionSecs: 23.5 * 3600,
};

export function binanceWsAdapter(): WsAdapter {
  return {
    source: "binance",
    url: binanceStreamUrl,
    subscribe: () => [],
    parse: parseBinanceWs,
  };
}

/** `wss://…:9443` + BTC-USDT, ETH-USDT → `wss://…:9443/stream?streams=btcusdt@ticker/ethusdt@ticker`. */
export function binanceStreamUrl(base: string, symbols: readonly string[]): string {
  const streams = [...new Set(symbols.map((s) => `${binanceSymbol(s).toLowerCase()}@ticker`))];
  return `${base.replace(/\/+$/, "")}/stream?streams=${streams.join("/")}`;
}

export function parseBinanceWs(text: string, context: WsContext): WsParsed {
  const json = jsonMessage(text);
  if ("unusable" in json) return { unusable: [json.unusable] };
  const message = json.value;
  // Combined streams wrap each event; a bare event (raw stream, or a shutdown notice) is read too.
  const event = isObject(message) && "stream" in message && "data" in message
    ? message.data
    : message;
  if (!isObject(event)) {
    return { unusable: [reject(message, [`event: expected an object, got ${kindOf(event)}`])] };
  }
  if (event.e === "serverShutdown") {
    return { reconnect: "the server announced a shutdown (serverShutdown)" };
  }
  if (event.e === "24hrTicker") {
    const read = readTicker(event, context);
    return "problems" in read
      ? { unusable: [reject(message, read.problems)] }
      : { records: [read] };
  }
  // Replies to control messages: `{"result":null,"id":1}` or `{"error":{code,msg},"id":1}`.
  if ("id" in event && "result" in event) return {};
  if ("error" in event) return { notices: [`binance error: ${preview(event.error)}`] };
  // Another event type (Binance adds some now and then) is not ours to publish.
  if (typeof event.e === "string") return {};
  return { unusable: [reject(message, ["not a Binance event: no `e` field"])] };
}

function readTicker(event: Record<string, unknown>, context: WsContext): TickerRecord | Problems {
  const native = event.s;
  if (typeof native !== "string" || native === "") {
    return { problems: [`s: expected a Binance symbol, got ${preview(native)}`] };
  }
  const parts = configuredParts(context.symbols).get(native);
  if (parts === undefined) {
    return { problems: [`s: ${preview(native)} is not one of the configured symbols`] };
  }
  const problems: string[] = [];
  const decimal = (field: string) =>
    optional(event[field], decimalNumber, `${field}: expected a finite decimal, got`, problems);
  const integer = (field: string) =>
    optional(event[field], safeInteger, `${field}: expected an integer, got`, problems);
  const price = decimal("c");
  if (price === null && problems.length === 0) problems.push("c (last price): missing");
  const bid = decimal("b");
  const ask = decimal("a");
  const open = decimal("o");
  const high = decimal("h");
  const low = decimal("l");
  const volumeBase = decimal("v");
  const volumeQuote = decimal("q");
  const change = decimal("P");
  const eventTime = integer("E");
  const lastTradeId = integer("L");
  if (problems.length > 0 || price === null) return { problems };
  return restTicker(parts, {
    source: "binance",
    source_kind: "exchange",
    source_symbol: native,
    price,
    // 0 is Binance's "empty book side", not a price.
    bid: bid === 0 ? null : bid,
    ask: ask === 0 ? null : ask,
    open_24h: open,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volumeBase,
    volume_24h_quote: volumeQuote,
    change_pct_24h: change,
    change_window: "rolling_24h",
    event_time: eventTime,
    ingest_time: context.ingestTime,
    // -1 means "no trade in the window".
    seq: lastTradeId !== null && lastTradeId >= 0 ? lastTradeId : null,
  }, "ws");
}

/** Built once per symbol list, not once per message. */
const partsCache = new WeakMap<readonly string[], Map<string, SymbolParts>>();

/** `BTCUSDT` → the canonical parts, from the configured list (`BTCUSDT` cannot be split). */
function configuredParts(symbols: readonly string[]): Map<string, SymbolParts> {
  const cached = partsCache.get(symbols);
  if (cached) return cached;
  const map = new Map<string, SymbolParts>();
  partsCache.set(symbols, map);
  for (const symbol of symbols) {
    const [base, quote] = symbol.split("-");
    if (!base || !quote) continue;
    const parts = joinSymbol(base, quote);
    const native = binanceSymbol(parts.symbol);
    if (!map.has(native)) map.set(native, parts);
  }
  return map;
}
