import assert from "node:assert/strict";
import { PartitionBuffer } from "./mod.ts";

const hour = (h: string) => ({ dt: "2026-11-24", hour: h });
const limits = { maxRecords: 3, flushIntervalMs: 1000 };

Deno.test("batch: rows go to one bucket per (table, dt, hour), offsets kept in order", () => {
  const buffer = new PartitionBuffer("t", 0);
  buffer.add(10, "ticker", hour("01"), { n: 1 }, 0);
  buffer.add(11, "ticker", hour("02"), { n: 2 }, 0);
  buffer.add(12, "ticker_errors", hour("01"), { n: 3 }, 0);
  buffer.add(13, "ticker", hour("01"), { n: 4 }, 0);
  const buckets = buffer.drain();
  assert.deepEqual(buckets.map((b) => [b.table, b.part.hour, b.offsets]), [
    ["ticker", "01", [10, 13]],
    ["ticker", "02", [11]],
    ["ticker_errors", "01", [12]],
  ]);
  assert.equal(buffer.size, 0);
  assert.equal(buffer.nextOffset, 14, "the next offset survives a drain");
});

Deno.test("batch: re-delivered offsets are ignored", () => {
  const buffer = new PartitionBuffer("t", 0);
  assert.ok(buffer.add(5, "ticker", hour("01"), {}, 0));
  assert.ok(buffer.add(6, "ticker", hour("01"), {}, 0));
  assert.equal(buffer.add(5, "ticker", hour("01"), {}, 0), false);
  buffer.drain();
  assert.equal(buffer.add(6, "ticker", hour("01"), {}, 0), false);
  assert.ok(buffer.add(7, "ticker", hour("01"), {}, 0));
});

Deno.test("batch: due by record count of one bucket, or by age of the oldest row", () => {
  const buffer = new PartitionBuffer("t", 0);
  assert.equal(buffer.due(0, limits), undefined);
  buffer.add(0, "ticker", hour("01"), {}, 100);
  buffer.add(1, "ticker", hour("02"), {}, 100);
  buffer.add(2, "ticker", hour("03"), {}, 100);
  assert.equal(buffer.due(500, limits), undefined, "3 rows, but no bucket holds 3");
  assert.equal(buffer.due(1100, limits), "interval");
  buffer.drain();
  for (let i = 3; i < 6; i++) buffer.add(i, "ticker", hour("01"), {}, 2000);
  assert.equal(buffer.due(2000, limits), "records");
});
