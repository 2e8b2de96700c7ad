/**
 * Stage door: the normalized record. Schema, validator and the Kafka wire form (JSON).
 */
export * from "./schema.ts";
export { EARLIEST_TIME_MS, LATEST_TIME_MS, validateTicker, type Validation } from "./validate.ts";
import type { TickerRecord } from "./schema.ts";
import { validateTicker, type Validation } from "./validate.ts";

/** The Kafka header that names the payload's schema, so consumers can route without parsing. */
export const SCHEMA_HEADER = "cryptopipe-schema";

/** Kafka message key: one instrument of one source stays ordered within a partition. */
export function messageKey(record: Pick<TickerRecord, "source" | "symbol">): string {
  return `${record.source}:${record.symbol}`;
}

export function encodeRecord(record: TickerRecord): string {
  return JSON.stringify(record);
}

/** Decode and validate a Kafka payload. Never throws: bad bytes become problems. */
export function decodeRecord(payload: Uint8Array | string | null): Validation {
  if (payload === null) return { ok: false, problems: ["empty payload (tombstone)"] };
  const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`not JSON: ${(error as Error).message}`] };
  }
  return validateTicker(value);
}
