import assert from "node:assert/strict";
import { type BatchLimits, type BufferedRow, PartitionBuffer } from "./mod.ts";

const hour = (h: string) => ({ dt: "2026-11-24", hour: h });
const limits: BatchLimits = {
  maxRecords: 3,
  maxBytes: 1000,
  maxSpanMs: 60_000,
  maxOpenFiles: 2,
  maxAgeMs: 1000,
  maxIdleMs: 500,
};

function row(
  offset: number,
  h = "01",
  { table = "ticker", bytes = 10, eventMs = 0 }: Partial<
    { table: string; bytes: number; eventMs: number }
  > = {},
): BufferedRow {
  return { offset, table, part: hour(h), row: { n: offset }, bytes, eventMs };
}

Deno.test("batch: rows go to one bucket per (table, dt, hour), offsets kept in order", () => {
  const buffer = new PartitionBuffer("t", 0);
  const wide = { ...limits, maxOpenFiles: 10 };
  buffer.add(row(10, "01"), 0, wide);
  buffer.add(row(11, "02"), 0, wide);
  buffer.add(row(12, "01", { table: "ticker_errors" }), 0, wide);
  buffer.add(row(13, "01"), 0, wide);
  assert.equal(buffer.bytes, 40);
  const buckets = buffer.drain();
  assert.deepEqual(buckets.map((b) => [b.table, b.part.hour, b.offsets]), [
    ["ticker", "01", [10, 13]],
    ["ticker", "02", [11]],
    ["ticker_errors", "01", [12]],
  ]);
  assert.equal(buffer.size, 0);
  assert.equal(buffer.bytes, 0);
  assert.equal(buffer.nextOffset, 14, "the next offset survives a drain");
});

Deno.test("batch: re-delivered offsets are ignored", () => {
  const buffer = new PartitionBuffer("t", 0);
  assert.ok(buffer.add(row(5), 0, limits));
  assert.ok(buffer.add(row(6), 0, limits));
  assert.equal(buffer.add(row(5), 0, limits), false);
  buffer.drain();
  assert.ok(buffer.isDuplicate(6));
  assert.equal(buffer.add(row(6), 0, limits), false);
  assert.ok(buffer.add(row(7), 0, limits));
});

Deno.test("batch: due by record count of one bucket, not of the partition", () => {
  const buffer = new PartitionBuffer("t", 0);
  assert.equal(buffer.due(0, limits), undefined);
  const wide = { ...limits, maxOpenFiles: 10 };
  buffer.add(row(0, "01"), 100, wide);
  buffer.add(row(1, "02"), 100, wide);
  buffer.add(row(2, "03"), 100, wide);
  assert.equal(buffer.due(100, wide), undefined, "3 rows, but no bucket holds 3");
  buffer.drain();
  for (let i = 3; i < 6; i++) buffer.add(row(i), 2000, limits);
  assert.equal(buffer.due(2000, limits), "records");
});

Deno.test("batch: due by input bytes of one bucket", () => {
  const buffer = new PartitionBuffer("t", 0);
  buffer.add(row(0, "01", { bytes: 600 }), 0, limits);
  assert.equal(buffer.due(0, limits), undefined);
  buffer.add(row(1, "01", { bytes: 400 }), 0, limits);
  assert.equal(buffer.due(0, limits), "bytes");
});

Deno.test("batch: wall-clock rules, age of the oldest row and idle time since the last", () => {
  const buffer = new PartitionBuffer("t", 0);
  const slowIdle = { ...limits, maxIdleMs: 10_000 };
  buffer.add(row(0), 100, slowIdle);
  buffer.add(row(1), 900, slowIdle);
  assert.equal(buffer.due(1099, slowIdle), undefined);
  assert.equal(buffer.due(1100, slowIdle), "age", "the oldest row is 1000 ms old");
  buffer.drain();
  buffer.add(row(2), 5000, limits);
  assert.equal(buffer.due(5499, limits), undefined);
  assert.equal(buffer.due(5500, limits), "idle");
});

Deno.test("batch: record-derived cuts before a row, by event-time span and by open files", () => {
  const buffer = new PartitionBuffer("t", 0);
  assert.equal(buffer.cutBefore(row(0), limits), undefined, "nothing to cut when empty");
  buffer.add(row(0, "01", { eventMs: 1_000 }), 0, limits);
  assert.equal(buffer.cutBefore(row(1, "01", { eventMs: 60_999 }), limits), undefined);
  assert.equal(buffer.cutBefore(row(1, "01", { eventMs: 61_000 }), limits), "span");
  buffer.add(row(1, "02"), 0, limits);
  assert.equal(buffer.cutBefore(row(2, "02"), limits), undefined, "an open bucket is fine");
  assert.equal(buffer.cutBefore(row(2, "03"), limits), "open_files", "a third bucket is not");
});
