/**
 * Stage door: the normalized record. Schema, validator and the Kafka wire form (JSON).
 */
export * from "./schema.ts";
export { EARLIEST_TIME_MS, LATEST_TIME_MS, validateTicker, type Validation } from "./validate.ts";
import { TICKER_SCHEMA_ID, type TickerRecord } from "./schema.ts";
import { validateTicker } from "./validate.ts";

/** The Kafka header that names the payload's schema, so consumers can route without parsing. */
export const SCHEMA_HEADER = "cryptopipe-schema";

/** Kafka message key: one instrument of one source stays ordered within a partition. */
export function messageKey(record: Pick<TickerRecord, "source" | "symbol">): string {
  return `${record.source}:${record.symbol}`;
}

export function encodeRecord(record: TickerRecord): string {
  return JSON.stringify(record);
}

const UTF8 = new TextDecoder();

/** Why a message did not become a lake row; the error table's `error_code`. */
export type RejectCode = "empty" | "not_json" | "unknown_schema_version" | "invalid_record";

export type Decoded =
  | { readonly ok: true; readonly record: TickerRecord }
  | { readonly ok: false; readonly code: RejectCode; readonly problems: readonly string[] };

/**
 * Decode and validate a Kafka payload. Never throws: bad bytes become problems. A schema id
 * this build does not know (from the header or the body) gets its own code, so a producer
 * upgrade shows up as such instead of as a flood of validation errors.
 */
export function decodeRecord(
  payload: Uint8Array | string | null,
  schemaHeader: string | null = null,
): Decoded {
  if (schemaHeader !== null && schemaHeader !== TICKER_SCHEMA_ID) {
    return unknownSchema(schemaHeader);
  }
  if (payload === null) {
    return { ok: false, code: "empty", problems: ["empty payload (tombstone)"] };
  }
  const text = typeof payload === "string" ? payload : UTF8.decode(payload);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: "not_json", problems: [`not JSON: ${(error as Error).message}`] };
  }
  const schema = (value as { schema?: unknown } | null)?.schema;
  if (typeof schema === "string" && schema !== TICKER_SCHEMA_ID) return unknownSchema(schema);
  const result = validateTicker(value);
  return result.ok ? result : { ok: false, code: "invalid_record", problems: result.problems };
}

function unknownSchema(id: string): Decoded {
  return {
    ok: false,
    code: "unknown_schema_version",
    problems: [
      `unknown schema ${JSON.stringify(id.slice(0, 100))}; this build reads ${TICKER_SCHEMA_ID}`,
    ],
  };
}
