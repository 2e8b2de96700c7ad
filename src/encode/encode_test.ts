import assert from "node:assert/strict";
import { ERROR_COLUMNS, LAKE_COLUMNS } from "../record/mod.ts";
import { sampleTicker } from "../record/testing.ts";
import { createEncoder, type Row } from "./mod.ts";

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

for (const format of ["parquet", "jsonl"] as const) {
  Deno.test(`encode (${format}): rows round-trip exactly, nulls included`, async () => {
    const encoder = createEncoder(format, { rowGroupSize: 7 });
    const rows = lakeRows([40, 41, 43, 50, 51, 52, 60, 61, 62, 63]);
    const decoded = await encoder.decode(encoder.encode(rows, LAKE_COLUMNS));
    assert.deepEqual(decoded, rows);
  });

  Deno.test(`encode (${format}): a file states the offsets it covers`, () => {
    const encoder = createEncoder(format);
    const bytes = encoder.encode(lakeRows([7, 9, 12]), LAKE_COLUMNS);
    const rows = lakeRows([7, 9, 12]);
    assert.deepEqual(encoder.coverage(bytes), {
      firstOffset: 7,
      lastOffset: 12,
      records: 3,
      firstTimestamp: rows[0]._kafka_timestamp,
    });
  });
}

Deno.test("encode: error rows use their own columns", async () => {
  const encoder = createEncoder("parquet");
  const rows: Row[] = [{
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
  }];
  assert.deepEqual(await encoder.decode(encoder.encode(rows, ERROR_COLUMNS)), rows);
});
