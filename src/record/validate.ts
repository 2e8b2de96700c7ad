/**
 * The record validator, generated from the column table so it cannot drift from the schema.
 * It is hand-rolled rather than a schema library because it runs once per record on the
 * hot path of produce and consume.
 */
import { SYMBOL_PATTERN } from "../config/names.ts";
import { type Column, TICKER_COLUMNS, type TickerRecord } from "./schema.ts";

export type Validation =
  | { readonly ok: true; readonly record: TickerRecord }
  | { readonly ok: false; readonly problems: readonly string[] };

const ASSET_PATTERN = /^[A-Z0-9]{1,20}$/;
/** Bitcoin's genesis block to 2100: anything outside is a unit bug (seconds vs ms vs µs). */
export const EARLIEST_TIME_MS = Date.UTC(2009, 0, 3);
export const LATEST_TIME_MS = Date.UTC(2100, 0, 1);
const MAX_STRING = 256;
const MAX_RAW = 64 * 1024;
const POSITIVE = new Set(["price", "price_usd", "bid", "ask", "open_24h", "high_24h", "low_24h"]);
const NON_NEGATIVE = new Set(["volume_24h_base", "volume_24h_quote", "market_cap_usd"]);
const TIMES = new Set(["event_time", "ingest_time"]);
const KNOWN = new Set<string>(TICKER_COLUMNS.map((c) => c.name));

type Check = (value: unknown, problems: string[]) => void;

/**
 * One check per column, with its rules looked up once here rather than per record: this runs
 * for every field of every record consumed.
 */
function compileCheck(column: Column): Check {
  const { name, nullable } = column;
  const present = (check: Check): Check => (value, problems) => {
    if (value === null || value === undefined) {
      if (!nullable) problems.push(`${name}: required`);
      return;
    }
    check(value, problems);
  };
  switch (column.type) {
    case "string": {
      const limit = name === "raw" ? MAX_RAW : MAX_STRING;
      const values = "values" in column ? new Set<string>(column.values) : undefined;
      return present((value, problems) => {
        if (typeof value !== "string") return void problems.push(`${name}: expected a string`);
        if (value.length === 0 || value.length > limit) {
          return void problems.push(`${name}: length must be 1..${limit}`);
        }
        if (values && !values.has(value)) {
          problems.push(
            `${name}: ${JSON.stringify(value)} is not one of ${[...values].join(", ")}`,
          );
        }
      });
    }
    case "float64": {
      const positive = POSITIVE.has(name);
      const nonNegative = NON_NEGATIVE.has(name);
      return present((value, problems) => {
        if (typeof value !== "number" || !Number.isFinite(value)) {
          return void problems.push(`${name}: expected a finite number`);
        }
        if (positive && !(value > 0)) problems.push(`${name}: must be > 0`);
        if (nonNegative && value < 0) problems.push(`${name}: must be >= 0`);
      });
    }
    case "int64":
    case "int32": {
      const time = TIMES.has(name);
      return present((value, problems) => {
        if (typeof value !== "number" || !Number.isSafeInteger(value)) {
          return void problems.push(`${name}: expected an integer`);
        }
        if (time && (value < EARLIEST_TIME_MS || value >= LATEST_TIME_MS)) {
          problems.push(`${name}: ${value} is not epoch milliseconds between 2009 and 2100`);
        }
      });
    }
  }
}

const CHECKS: ReadonlyArray<readonly [string, Check]> = TICKER_COLUMNS.map((
  column,
) => [column.name, compileCheck(column)]);

/** Validate one decoded JSON value against ticker v1. Never throws. */
export function validateTicker(value: unknown): Validation {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problems: ["expected a JSON object"] };
  }
  const input = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key in input) {
    if (!KNOWN.has(key)) problems.push(`${key}: not a field of ticker v1`);
  }
  for (const [name, check] of CHECKS) check(input[name], problems);
  if (problems.length === 0) {
    const { symbol, base, quote, price_usd, usd_basis } = input;
    if (!ASSET_PATTERN.test(base as string)) problems.push("base: must be upper-case A-Z0-9");
    if (!ASSET_PATTERN.test(quote as string)) problems.push("quote: must be upper-case A-Z0-9");
    if (!SYMBOL_PATTERN.test(symbol as string) || symbol !== `${base}-${quote}`) {
      problems.push(`symbol: ${JSON.stringify(symbol)} must be BASE-QUOTE (${base}-${quote})`);
    }
    if (
      (price_usd === null || price_usd === undefined) !==
        (usd_basis === null || usd_basis === undefined)
    ) {
      problems.push("price_usd: set exactly when usd_basis is set");
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  // Normalize absent optional fields to null so every record has every column.
  const record: Record<string, unknown> = {};
  for (const [name] of CHECKS) record[name] = input[name] ?? null;
  return { ok: true, record: record as TickerRecord };
}
