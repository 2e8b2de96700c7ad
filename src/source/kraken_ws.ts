/**
 * Kraken WebSocket v2 adapter (exchange-apis.md §8, §9): `wss://ws.kraken.com/v2`, one
 * `subscribe` to the `ticker` channel with `snapshot: true`, so every (re)connect starts from
 * a full ticker rather than waiting for the next trade. Kraken closes a connection idle for
 * about a minute: a client `{"method":"ping","req_id":n}` goes out every 20 s.
 *
 * v2 symbols are `BTC/USD` (v1 used `XBT/USD`; the alias table still maps XBT if it appears)
 * and numbers are JSON numbers. Ticker fields: `last` (required), `bid`, `ask`, `high`, `low`,
 * `volume` (base), `vwap`, `change_pct` (rolling 24 h). There is no sequence, and event_time is
 * null unless a `timestamp` is present (its presence is UNCONFIRMED).
 */
import type { TickerRecord } from "../record/mod.ts";
import { isoToMs } from "./coinbase.ts";
import {
  finiteOrNull,
  isObject,
  kindOf,
  numberField,
  optional,
  preview,
  type Problems,
  reject,
  tickerRecord,
} from "./fields.ts";
import type { Unusable } from "./rest.ts";
import { joinSymbol, splitSymbol } from "./symbols.ts";
import {
  jsonMessage,
  type WsAdapter,
  type WsContext,
  type WsDefaults,
  type WsParsed,
} from "./ws.ts";

export const KRAKEN_WS_DEFAULTS: WsDefaults = { url: "wss://ws.kraken.com/v2" };

/** Well inside Kraken's ≈ 1 min idle cut. */
export const KRAKEN_PING_MS = 20_000;

export function krakenWsAdapter(): WsAdapter {
  return {
    source: "kraken",
    url: (base) => base,
    subscribe: krakenSubscribe,
    keepAlive: {
      intervalMs: KRAKEN_PING_MS,
      // req_id 1 is the subscribe.
      message: (n) => JSON.stringify({ method: "ping", req_id: n + 1 }),
    },
    parse: parseKrakenWs,
  };
}

/** `BTC-USD` → `BTC/USD`: v2 uses the common asset codes. */
export function krakenWsSymbol(symbol: string): string {
  const { base, quote } = splitSymbol(symbol);
  return `${base}/${quote}`;
}

export function krakenSubscribe(symbols: readonly string[]): string[] {
  return [JSON.stringify({
    method: "subscribe",
    params: {
      channel: "ticker",
      symbol: [...new Set(symbols.map(krakenWsSymbol))],
      event_trigger: "trades",
      snapshot: true,
    },
    req_id: 1,
  })];
}

export function parseKrakenWs(text: string, context: WsContext): WsParsed {
  const json = jsonMessage(text);
  if ("unusable" in json) return { unusable: [json.unusable] };
  const message = json.value;
  if (!isObject(message)) {
    return { unusable: [reject(message, [`expected an object, got ${kindOf(message)}`])] };
  }
  // Replies to our requests: subscribe acks (success, or error) and pongs.
  if (typeof message.method === "string") {
    return message.success === false
      ? { notices: [`kraken ${message.method} refused: ${preview(message.error)}`] }
      : {};
  }
  if (message.channel === "ticker") return readTickers(message, context);
  // heartbeat, status, and channels we did not subscribe to.
  if (typeof message.channel === "string") return {};
  return { unusable: [reject(message, ["not a Kraken v2 message: no channel or method"])] };
}

function readTickers(message: Record<string, unknown>, context: WsContext): WsParsed {
  if (!Array.isArray(message.data)) {
    return {
      unusable: [reject(message, [`data: expected an array, got ${kindOf(message.data)}`])],
    };
  }
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  for (const entry of message.data) {
    const read = readEntry(entry, context);
    if ("problems" in read) unusable.push(reject(entry, read.problems));
    else records.push(read);
  }
  return { records, unusable };
}

function readEntry(entry: unknown, context: WsContext): TickerRecord | Problems {
  if (!isObject(entry)) return { problems: [`ticker: expected an object, got ${kindOf(entry)}`] };
  const native = entry.symbol;
  const pieces = typeof native === "string" ? native.split("/") : [];
  if (pieces.length !== 2 || !pieces.every((p) => /^[A-Za-z0-9]{1,20}$/.test(p))) {
    return { problems: [`symbol: expected BASE/QUOTE, got ${preview(native)}`] };
  }
  const parts = joinSymbol(pieces[0], pieces[1]);
  if (!context.symbols.includes(parts.symbol)) {
    return { problems: [`symbol: ${parts.symbol} is not a configured symbol`] };
  }
  const problems: string[] = [];
  const price = numberField(entry, "last", problems);
  if (price === null && problems.length === 0) problems.push("last: missing");
  const bid = numberField(entry, "bid", problems);
  const ask = numberField(entry, "ask", problems);
  const high = numberField(entry, "high", problems);
  const low = numberField(entry, "low", problems);
  const volume = numberField(entry, "volume", problems);
  const vwap = numberField(entry, "vwap", problems);
  const change = numberField(entry, "change_pct", problems);
  const time = optional(
    entry.timestamp,
    (value) => typeof value === "string" ? isoToMs(value) : null,
    "timestamp: not an RFC-3339 time:",
    problems,
  );
  if (problems.length > 0 || price === null) return { problems };
  return tickerRecord(parts, {
    source: "kraken",
    source_kind: "exchange",
    source_symbol: native as string,
    price,
    bid,
    ask,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volume,
    // As for REST: Kraken gives no quote volume, the base volume at its VWAP is one.
    volume_24h_quote: volume !== null && vwap !== null ? finiteOrNull(volume * vwap) : null,
    change_pct_24h: change,
    change_window: "rolling_24h",
    event_time: time,
    ingest_time: context.ingestTime,
  }, "ws");
}
