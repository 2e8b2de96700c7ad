import assert from "node:assert/strict";
import { ERROR_COLUMNS, LAKE_COLUMNS } from "../record/mod.ts";
import { errorRow, lakeRows } from "./testing.ts";
import { createEncoder, type Row } from "./mod.ts";

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
  const rows: Row[] = [errorRow()];
  assert.deepEqual(await encoder.decode(encoder.encode(rows, ERROR_COLUMNS)), rows);
});

Deno.test("encode (jsonl, gzip): a .jsonl.gz file round-trips, states its offsets, and is the same bytes every time", async () => {
  const encoder = createEncoder("jsonl", { gzip: true });
  assert.equal(encoder.extension, "jsonl.gz");
  const rows = lakeRows([3, 4, 9]);
  const bytes = encoder.encode(rows, LAKE_COLUMNS);
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], "gzip magic");
  assert.deepEqual(await encoder.decode(bytes), rows);
  assert.equal(encoder.coverage(bytes).lastOffset, 9);
  assert.deepEqual(encoder.encode(rows, LAKE_COLUMNS), bytes, "deterministic");
  assert.ok(bytes.length < createEncoder("jsonl").encode(rows, LAKE_COLUMNS).length);
});
