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
import {
  binanceSymbol,
  binanceSymbols,
  type BinanceTickerFields,
  readBinanceTicker,
} from "./binance.ts";
import { isObject, kindOf, preview, reject } from "./fields.ts";
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
    const read = readBinanceTicker(
      event,
      WS_FIELDS,
      binanceSymbols(context.symbols),
      context.ingestTime,
      "ws",
    );
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

/** The `@ticker` event's one-letter fields, in the REST reader's terms. */
const WS_FIELDS: BinanceTickerFields = {
  symbol: "s",
  price: "c",
  bid: "b",
  ask: "a",
  open: "o",
  high: "h",
  low: "l",
  volume: "v",
  quoteVolume: "q",
  change: "P",
  time: "E",
  lastTrade: "L",
};
