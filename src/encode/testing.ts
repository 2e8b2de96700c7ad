/** Test fixture: lake rows (records plus lineage) with varied values and nulls. */
import { sampleTicker } from "../record/testing.ts";
import type { Row } from "./mod.ts";

export function lakeRows(offsets: number[]): Row[] {
  return offsets.map((offset, i) => ({
    ...sampleTicker({
      symbol: i % 2 ? "ETH-USD" : "BTC-USD",
      base: i % 2 ? "ETH" : "BTC",
      source_symbol: i % 2 ? "ETHUSD" : "BTCUSD",
      price: 100 + i / 7,
      price_usd: i % 3 ? 100 + i / 7 : null,
      usd_basis: i % 3 ? "native" : null,
      volume_24h_base: i,
      change_pct_24h: -0.756,
      event_time: Date.UTC(2026, 10, 24, 7) + i,
      ingest_time: Date.UTC(2026, 10, 24, 7) + i + 5,
      seq: i % 4 ? i : null,
      raw: i === 0 ? '{"quote":"with, comma \\"and\\" quotes"}' : null,
    }),
    _kafka_topic: "crypto.ticker.v1",
    _kafka_partition: 2,
    _kafka_offset: offset,
    _kafka_timestamp: Date.UTC(2026, 10, 24, 7, 30) + i,
  }));
}

/** Test fixture: one row of the errors table. */
export function errorRow(): Row {
  return {
    error_code: "not_json",
    error: "not JSON",
    payload: "{",
    payload_base64: "ew==",
    key: null,
    schema_header: null,
    _kafka_topic: "t",
    _kafka_partition: 0,
    _kafka_offset: 3,
    _kafka_timestamp: 1,
  };
}
