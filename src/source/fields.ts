/**
 * Reading provider payload fields into ticker record fields, shared by the REST adapters
 * (coingecko.ts, binance.ts, …). Each adapter knows its provider's shapes; this module holds
 * the rules they have in common: what counts as a number in a payload, that an absent or null
 * optional field is simply null while a present value that does not parse is a problem naming
 * the field, how a value is shown in a problem, how a part that cannot become a record is kept
 * for the rejects topic, and the skeleton every REST ticker record shares.
 *
 * The wording of each problem stays with its adapter (its rejects and tests name it), so the
 * readers here take it as an argument.
 */
import { TICKER_SCHEMA_ID, type TickerRecord } from "../record/mod.ts";
import type { Unusable } from "./rest.ts";
import { type SymbolParts, usdPrice } from "./symbols.ts";

// ---- looking at a payload value ----

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a value is, for "expected …, got <kind>": `null`, `an array`, `an object`, `a string`. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A value as JSON text; what JSON cannot show (undefined, a cycle, a bigint) as `String`. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A value as it is quoted in a problem: its JSON text, at most 60 characters. */
export function preview(value: unknown): string {
  return jsonText(value).slice(0, 60);
}

// ---- numbers ----

/** A decimal number as text: `67234.12`, `-0.5`, `.5`, `1e-3` (no hex, no `_`, no `NaN`). */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A JSON number that is finite; anything else (a numeric string too) → null. */
export function finiteNumber(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * A decimal string (`"67234.12"`, surrounding white space ignored) or a JSON number, when it is
 * finite; anything else (`""`, `"NaN"`, `"abc"`, `"1e400"`, which overflows) → null.
 */
export function decimalNumber(value: unknown): number | null {
  if (typeof value === "number") return finiteNumber(value);
  if (typeof value !== "string" || !DECIMAL.test(value.trim())) return null;
  return finiteNumber(Number(value.trim()));
}

/** A JSON number that is a safe integer (ms times, ids); anything else → null. */
export function safeInteger(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : null;
}

/** A computed value (a product, a percentage) when finite, else null. */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Percent change from `open` to `price`; null without either, with a zero open, or on overflow. */
export function changePercent(price: number | null, open: number | null): number | null {
  return price === null || open === null || open === 0
    ? null
    : finiteOrNull(((price - open) / open) * 100);
}

// ---- optional fields and their problems ----

/** The problems found in one part of a payload, in place of what it would have given. */
export type Problems = { readonly problems: string[] };

/**
 * One optional payload value: absent or null → null. Otherwise the value `parse` gives; when it
 * gives null, the problem `<complaint> <preview of the value>` is added to `problems`.
 */
export function optional<T>(
  value: unknown,
  parse: (value: unknown) => T | null,
  complaint: string,
  problems: string[],
): T | null {
  if (value === undefined || value === null) return null;
  const parsed = parse(value);
  if (parsed === null) problems.push(`${complaint} ${preview(value)}`);
  return parsed;
}

/** An optional field that must be a finite JSON number: `<field>: expected a finite number, got …`. */
export function numberField(
  body: Record<string, unknown>,
  field: string,
  problems: string[],
): number | null {
  return optional(body[field], finiteNumber, `${field}: expected a finite number, got`, problems);
}

// ---- what cannot be read ----

/** The longest `raw` kept for an unusable part of a payload. */
export const MAX_RAW_CHARS = 2000;
/** The longest error message taken from a response body. */
export const MAX_MESSAGE_CHARS = 500;

/** A part of a payload that cannot become a record, with its problems, for the rejects topic. */
export function reject(value: unknown, problems: string[]): Unusable {
  return { raw: jsonText(value).slice(0, MAX_RAW_CHARS), problems };
}

/** An error message from a response body, cut to {@link MAX_MESSAGE_CHARS}. */
export function clipMessage(text: string): string {
  return text.slice(0, MAX_MESSAGE_CHARS);
}

// ---- the record ----

type MarketField =
  | "bid"
  | "ask"
  | "open_24h"
  | "high_24h"
  | "low_24h"
  | "volume_24h_base"
  | "volume_24h_quote"
  | "market_cap_usd"
  | "change_pct_1h"
  | "change_pct_24h"
  | "change_pct_7d"
  | "event_time"
  | "seq";

/** What a provider gives for one ticker; a market field it does not give may be left out. */
export type TickerFields =
  & Pick<
    TickerRecord,
    "source" | "source_kind" | "source_symbol" | "price" | "change_window" | "ingest_time"
  >
  & Partial<Pick<TickerRecord, MarketField>>;

/**
 * A ticker v1 candidate from a live source, in column order: the provider's fields (a market
 * field left out is null) in the skeleton every adapter shares: the schema id, the channel
 * (`rest` by default, `ws` for streams), the canonical symbol parts, `price_usd` only for a USD
 * quote, no `raw`.
 */
export function tickerRecord(
  parts: SymbolParts,
  fields: TickerFields,
  channel: TickerRecord["channel"] = "rest",
): TickerRecord {
  return {
    schema: TICKER_SCHEMA_ID,
    source: fields.source,
    source_kind: fields.source_kind,
    channel,
    symbol: parts.symbol,
    base: parts.base,
    quote: parts.quote,
    source_symbol: fields.source_symbol,
    price: fields.price,
    ...usdPrice(parts.quote, fields.price),
    bid: fields.bid ?? null,
    ask: fields.ask ?? null,
    open_24h: fields.open_24h ?? null,
    high_24h: fields.high_24h ?? null,
    low_24h: fields.low_24h ?? null,
    volume_24h_base: fields.volume_24h_base ?? null,
    volume_24h_quote: fields.volume_24h_quote ?? null,
    market_cap_usd: fields.market_cap_usd ?? null,
    change_pct_1h: fields.change_pct_1h ?? null,
    change_pct_24h: fields.change_pct_24h ?? null,
    change_pct_7d: fields.change_pct_7d ?? null,
    change_window: fields.change_window,
    event_time: fields.event_time ?? null,
    ingest_time: fields.ingest_time,
    seq: fields.seq ?? null,
    raw: null,
  };
}
