/**
 * Coinbase Exchange WebSocket adapter (exchange-apis.md §8, §9): `wss://ws-feed.exchange.coinbase.com`,
 * one `subscribe` to the `ticker` and `heartbeat` channels, sent on open (Coinbase disconnects
 * a client that has not subscribed within 5 s). The heartbeat channel (1/s per product) is the
 * keep-alive; no client ping is needed.
 *
 * Ticker fields (decimal strings): `price`, `open_24h`, `high_24h`, `low_24h`, `volume_24h`
 * (base), `best_bid`, `best_ask`, `time` (ISO µs → ms), `sequence` → seq. Every field but
 * `price` is optional (illiquid products send subsets, cryptofeed #909). Both channels carry a
 * per-product `sequence`; the engine reports a jump of more than one as a gap. Unknown message
 * types are ignored, as Coinbase asks.
 */
import type { TickerRecord } from "../record/mod.ts";
import { integerOrDigits, isoToMs } from "./coinbase.ts";
import {
  changePercent,
  decimalNumber,
  isObject,
  kindOf,
  optional,
  preview,
  type Problems,
  reject,
  safeInteger,
  tickerRecord,
} from "./fields.ts";
import { joinSymbol, type SymbolParts } from "./symbols.ts";
import {
  jsonMessage,
  type SequenceMark,
  type WsAdapter,
  type WsContext,
  type WsDefaults,
  type WsParsed,
} from "./ws.ts";

export const COINBASE_WS_DEFAULTS: WsDefaults = { url: "wss://ws-feed.exchange.coinbase.com" };

export function coinbaseWsAdapter(): WsAdapter {
  return {
    source: "coinbase",
    url: (base) => base,
    subscribe: coinbaseSubscribe,
    parse: parseCoinbaseWs,
  };
}

/** Product ids are already canonical `BASE-QUOTE`; one message covers every product. */
export function coinbaseSubscribe(symbols: readonly string[]): string[] {
  return [JSON.stringify({
    type: "subscribe",
    product_ids: [...new Set(symbols)],
    channels: ["ticker", "heartbeat"],
  })];
}

export function parseCoinbaseWs(text: string, context: WsContext): WsParsed {
  const json = jsonMessage(text);
  if ("unusable" in json) return { unusable: [json.unusable] };
  const message = json.value;
  if (!isObject(message) || typeof message.type !== "string") {
    const got = isObject(message) ? `type ${preview(message.type)}` : kindOf(message);
    return { unusable: [reject(message, [`expected a message with a type, got ${got}`])] };
  }
  switch (message.type) {
    case "ticker":
      return readTicker(message, context);
    case "heartbeat":
      return readHeartbeat(message, context);
    case "error": {
      const reason = message.reason === undefined ? "" : ` (${preview(message.reason)})`;
      return { notices: [`coinbase error: ${preview(message.message)}${reason}`] };
    }
    default:
      return {}; // subscriptions (the ack) and types we did not ask for
  }
}

/** A configured product's parts, or the problem with its `product_id`. */
function product(
  message: Record<string, unknown>,
  context: WsContext,
): { id: string; parts: SymbolParts } | Problems {
  const id = message.product_id;
  const pieces = typeof id === "string" ? id.split("-") : [];
  if (pieces.length !== 2 || !pieces.every((p) => /^[A-Za-z0-9]{1,20}$/.test(p))) {
    return { problems: [`product_id: expected BASE-QUOTE, got ${preview(id)}`] };
  }
  const parts = joinSymbol(pieces[0], pieces[1]);
  if (!context.symbols.includes(parts.symbol)) {
    return { problems: [`product_id: ${parts.symbol} is not a configured symbol`] };
  }
  return { id: id as string, parts };
}

function readHeartbeat(message: Record<string, unknown>, context: WsContext): WsParsed {
  const found = product(message, context);
  if ("problems" in found) return { unusable: [reject(message, found.problems)] };
  const seq = safeInteger(message.sequence);
  if (seq === null) {
    return {
      unusable: [
        reject(message, [`sequence: expected an integer, got ${preview(message.sequence)}`]),
      ],
    };
  }
  return { sequences: [{ stream: `heartbeat:${found.id}`, symbol: found.parts.symbol, seq }] };
}

function readTicker(message: Record<string, unknown>, context: WsContext): WsParsed {
  const found = product(message, context);
  if ("problems" in found) return { unusable: [reject(message, found.problems)] };
  const { id, parts } = found;
  const problems: string[] = [];
  // A sequence that reads counts for gap detection even when the rest of the ticker is bad:
  // the message arrived, nothing was missed.
  const seq = optional(message.sequence, integerOrDigits, "sequence: not an integer:", problems);
  const sequences: SequenceMark[] = seq === null
    ? []
    : [{ stream: `ticker:${id}`, symbol: parts.symbol, seq }];
  const record = readFields(message, parts, id, seq, context.ingestTime, problems);
  if ("problems" in record) return { unusable: [reject(message, record.problems)], sequences };
  return { records: [record], sequences };
}

function readFields(
  message: Record<string, unknown>,
  parts: SymbolParts,
  id: string,
  seq: number | null,
  ingestTime: number,
  problems: string[],
): TickerRecord | Problems {
  const decimal = (field: string) =>
    optional(message[field], decimalNumber, `${field}: not a finite number:`, problems);
  const price = decimal("price");
  if (price === null && !problems.some((p) => p.startsWith("price:"))) {
    problems.push("price: missing");
  }
  const open = decimal("open_24h");
  const high = decimal("high_24h");
  const low = decimal("low_24h");
  const volume = decimal("volume_24h");
  const bid = decimal("best_bid");
  const ask = decimal("best_ask");
  const time = optional(
    message.time,
    (value) => typeof value === "string" ? isoToMs(value) : null,
    "time: not an ISO-8601 UTC time:",
    problems,
  );
  if (problems.length > 0 || price === null) return { problems };
  return tickerRecord(parts, {
    source: "coinbase",
    source_kind: "exchange",
    source_symbol: id,
    price,
    bid,
    ask,
    open_24h: open,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volume,
    // As for REST: computed from the 24 h open, since Coinbase sends no change field.
    change_pct_24h: changePercent(price, open),
    change_window: "computed",
    event_time: time,
    ingest_time: ingestTime,
    seq,
  }, "ws");
}
