/**
 * Compaction over a real local lake folder (FileStore, Parquet): copies of a record written by a
 * replay that started inside a file are collapsed, a file past the committed offset waits, and
 * one group whose files disagree is refused without stopping the others.
 */
import assert from "node:assert/strict";
import { coverageOf, createEncoder, type Row } from "../encode/mod.ts";
import { lakeRows } from "../encode/testing.ts";
import { silentLogger } from "../log.ts";
import { LAKE_COLUMNS } from "../record/mod.ts";
import { FileStore } from "../store/file.ts";
import { compactedFileName, objectKey, partitionPrefix, timePartition } from "../store/mod.ts";
import { type CompactionOptions, Compactor, formatReport } from "./compact.ts";

const TOPIC = "crypto.ticker.v1";
const PARTITION = 2;
const TABLE = { location: "ticker", columns: LAKE_COLUMNS, sortBy: ["symbol", "event_time"] };
const parquet = createEncoder("parquet");

/** Rows 0..n-1 of one hour; `hour` moves them to another hour (07 + hour). */
function rowsOf(n: number, hour = 0): Row[] {
  return lakeRows([...Array(n).keys()]).map((row) => ({
    ...row,
    event_time: (row.event_time as number) + hour * 3_600_000,
  }));
}

async function put(store: FileStore, rows: Row[], compactedLast?: number): Promise<string> {
  const part = timePartition(rows[0].event_time as number);
  const first = rows[0]._kafka_offset as number;
  const key = compactedLast === undefined
    ? objectKey("ticker", part, TOPIC, PARTITION, first, "parquet")
    : `${partitionPrefix("ticker", part)}/${
      compactedFileName(TOPIC, PARTITION, first, compactedLast, "parquet")
    }`;
  assert.equal(
    await store.createOnce(key, parquet.encode(rows, LAKE_COLUMNS, coverageOf(rows))),
    "created",
  );
  return key;
}

async function lake(): Promise<{ store: FileStore; compactor: Compactor }> {
  const store = new FileStore(await Deno.makeTempDir());
  return { store, compactor: new Compactor(store, parquet, silentLogger) };
}

const options = (committed: number): CompactionOptions => ({
  topic: TOPIC,
  committed: new Map([[PARTITION, committed]]),
  beforeMs: Date.UTC(2030, 0, 1),
});

async function offsetsIn(store: FileStore, key: string): Promise<number[]> {
  const rows = await parquet.decode(await store.read(key));
  return rows.map((r) => r._kafka_offset as number).sort((a, b) => a - b);
}

Deno.test("compactor: a replay from inside a file (exact copies) heals into one row per offset", async () => {
  const { store, compactor } = await lake();
  const rows = rowsOf(9);
  // The first run wrote 0-5; a reset to 2:3 wrote 3-8 again (3-5 are copies).
  await put(store, rows.slice(0, 6));
  await put(store, rows.slice(3));
  const report = await compactor.compactTables([TABLE], options(9));
  assert.deepEqual([report.groups, report.filesBefore, report.rows], [1, 2, 9]);
  assert.equal(report.duplicatesCollapsed, 3);
  assert.deepEqual(report.refused, []);
  const after = await store.list("ticker");
  assert.equal(after.length, 1);
  assert.match(after[0], /\+2\+0{20}-0{19}8\.parquet$/);
  assert.deepEqual(await offsetsIn(store, after[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.match(formatReport(report), /collapsed 3 duplicate row/);
});

Deno.test("compactor: a file past the committed offset (a mid-file reset) waits for a later run, without failing", async () => {
  const { store, compactor } = await lake();
  const rows = rowsOf(9);
  const early = await put(store, rows.slice(0, 3));
  const straddler = await put(store, rows.slice(3, 9));
  // A copy of offset 4: below the committed offset, but inside the straddler, so it waits too.
  const later = await put(store, rows.slice(4, 5));
  // The group was reset to 2:5: offsets 5.. may be written again by a live consumer.
  const report = await compactor.compactTables([TABLE], options(5));
  assert.deepEqual(report.refused, []);
  assert.equal(report.leftForLater, 2);
  const after = await store.list("ticker");
  assert.ok(!after.includes(early), "the file before the straddler was compacted");
  assert.ok(after.includes(straddler) && after.includes(later));
  const compacted = after.find((k) => /-\d{20}\.parquet$/.test(k))!;
  assert.deepEqual(await offsetsIn(store, compacted), [0, 1, 2]);
  // Once the group has committed past it, the rest is folded in, copies collapsed.
  const second = await compactor.compactTables([TABLE], options(9));
  assert.equal(second.duplicatesCollapsed, 1);
  const final = await store.list("ticker");
  assert.equal(final.length, 1);
  assert.deepEqual(await offsetsIn(store, final[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("compactor: two different rows under one offset refuse that group only; the other hour is compacted", async () => {
  const { store, compactor } = await lake();
  const good = rowsOf(4, 1); // hour 08
  await put(store, good.slice(0, 2));
  await put(store, good.slice(2));
  const bad = rowsOf(6); // hour 07
  const first = await put(store, bad.slice(0, 4));
  const changed = bad.slice(2).map((r) => ({ ...r }));
  changed[1].price = 1; // offset 3, another price
  const second = await put(store, changed);
  const report = await compactor.compactTables([TABLE], options(6));
  assert.equal(report.groups, 1, "the good hour was compacted");
  assert.equal(report.refused.length, 1);
  assert.equal(report.refused[0].partition, PARTITION);
  assert.match(report.refused[0].folder, /hour=07$/);
  assert.match(
    report.refused[0].reason,
    /offset 3 of partition 2 is in .*\+2\+0{20}\.parquet and .*\+2\+0{19}2\.parquet with different content \(column price\)/,
  );
  const after = await store.list("ticker");
  assert.ok(after.includes(first) && after.includes(second), "the refused files are untouched");
  assert.equal(after.filter((k) => k.includes("hour=08")).length, 1);
  assert.match(
    formatReport(report),
    /refused ticker\/dt=2026-11-24\/hour=07 partition 2: offset 3/,
  );
});

Deno.test("compactor: a file that starts inside a compacted file and reaches past it is rewritten with it", async () => {
  const { store, compactor } = await lake();
  const rows = rowsOf(9);
  const old = await put(store, rows.slice(0, 6), 5);
  // A replay listed the hour before the compacted file existed (a reset during compaction).
  await put(store, rows.slice(4));
  const report = await compactor.compactTables([TABLE], options(9));
  assert.deepEqual(report.refused, []);
  assert.equal(report.duplicatesCollapsed, 2);
  const after = await store.list("ticker");
  assert.equal(after.length, 1);
  assert.notEqual(after[0], old);
  assert.deepEqual(await offsetsIn(store, after[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("compactor: a file that does not decode refuses its group only, naming it; the other hour is compacted", async () => {
  const { store, compactor } = await lake();
  const good = rowsOf(4, 1); // hour 08
  await put(store, good.slice(0, 2));
  await put(store, good.slice(2));
  const bad = rowsOf(4); // hour 07
  const whole = await put(store, bad.slice(0, 2));
  const part = timePartition(bad[2].event_time as number);
  const foreign = objectKey("ticker", part, TOPIC, PARTITION, 2, "parquet");
  assert.equal(await store.createOnce(foreign, new TextEncoder().encode("not parquet")), "created");
  const report = await compactor.compactTables([TABLE], options(4));
  assert.equal(report.groups, 1, "the good hour was compacted");
  assert.equal(report.refused.length, 1);
  assert.match(report.refused[0].reason, /\+2\+0{19}2\.parquet cannot be read: /);
  const after = await store.list("ticker");
  assert.ok(after.includes(whole) && after.includes(foreign), "the refused files are untouched");
});
