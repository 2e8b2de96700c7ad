/**
 * The exactly-once rules of LakeWriter, driven directly: a "crash" is a writer thrown away
 * after its files are durable but before its offset was committed, and a new writer re-reading
 * from the old committed offset, as a restarted consumer does.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "../bus/mod.ts";
import { configSchema } from "../config/schema.ts";
import { createEncoder, type Encoder } from "../encode/mod.ts";
import { silentLogger } from "../log.ts";
import { encodeRecord } from "../record/mod.ts";
import { sampleTicker } from "../record/testing.ts";
import { FileStore } from "../store/file.ts";
import type { Store } from "../store/mod.ts";
import { batchLimits } from "./consume.ts";
import { LakeWriter } from "./lake_writer.ts";

const TP = { topic: "t", partition: 0 };
const LIMITS = batchLimits(configSchema.parse({}).batch);
const H1 = Date.UTC(2026, 10, 24, 1);
const H2 = Date.UTC(2026, 10, 24, 2);

function message(offset: number, eventTime: number): IncomingMessage {
  const record = sampleTicker({
    price: 100 + offset,
    event_time: eventTime,
    ingest_time: eventTime,
  });

  return {
    ...TP,
    offset,
    timestamp: eventTime,
    key: "simulated:BTC-USD",
    value: new TextEncoder().encode(encodeRecord(record)),
    headers: {},
  };
}

const TABLES = { records: "ticker", errors: "ticker_errors" };

/** A lake folder, and a factory for writers on it (or on a wrapper of it, with another encoder). */
async function setup() {
  const store = new FileStore(await Deno.makeTempDir());
  const writer = (over: Store = store, encoder: Encoder = createEncoder("jsonl")) =>
    new LakeWriter(over, encoder, TABLES, LIMITS, silentLogger);
  return { store, writer };
}

/** Every (offset) in the lake, with how many files hold it. */
async function lakeOffsets(store: FileStore): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const key of await store.list("ticker")) {
    for (const line of new TextDecoder().decode(await store.read(key)).trimEnd().split("\n")) {
      const offset = JSON.parse(line)._kafka_offset;
      counts.set(offset, (counts.get(offset) ?? 0) + 1);
    }
  }
  return counts;
}

function feed(writer: LakeWriter, from: number, to: number, time = H1): void {
  for (let o = from; o <= to; o++) writer.add(message(o, time), 0);
}

Deno.test("lake writer: a flush writes every bucket and then allows the commit", async () => {
  const { store, writer } = await setup();
  const w = writer();
  for (let o = 0; o < 6; o++) w.add(message(o, o % 2 ? H2 : H1), 0);
  const result = await w.flush(TP);
  assert.deepEqual(result, { files: 2, rows: 6, commit: 6 });
  assert.deepEqual(await store.list("ticker"), [
    "ticker/dt=2026-11-24/hour=01/t+0+00000000000000000000.jsonl",
    "ticker/dt=2026-11-24/hour=02/t+0+00000000000000000001.jsonl",
  ]);
});

Deno.test("lake writer: after a crash, a rewrite that reads less holds the commit inside the old file", async () => {
  const { store, writer } = await setup();
  const first = writer();
  feed(first, 0, 9);
  assert.equal((await first.flush(TP)).commit, 10); // durable, but the commit "never happened"

  const second = writer(); // restarted from committed offset 0
  feed(second, 0, 5);
  const held = await second.flush(TP);
  assert.equal(held.files, 0);
  assert.equal(held.commit, undefined, "committing 6 would restart mid-file next time");
  feed(second, 6, 12);
  const resumed = await second.flush(TP);
  assert.deepEqual(resumed, { files: 1, rows: 3, commit: 13 });
  const offsets = await lakeOffsets(store);
  assert.deepEqual([...offsets.keys()].sort((a, b) => a - b), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
  ]);
  assert.ok([...offsets.values()].every((n) => n === 1), "no offset in two files");
});

Deno.test("lake writer: after a crash, a rewrite that reads more writes only the remainder", async () => {
  const { store, writer } = await setup();
  const first = writer();
  feed(first, 0, 3);
  await first.flush(TP);
  const second = writer();
  feed(second, 0, 9);
  assert.deepEqual(await second.flush(TP), { files: 1, rows: 6, commit: 10 });
  assert.deepEqual(await store.list("ticker"), [
    "ticker/dt=2026-11-24/hour=01/t+0+00000000000000000000.jsonl",
    "ticker/dt=2026-11-24/hour=01/t+0+00000000000000000004.jsonl",
  ]);
  assert.ok([...(await lakeOffsets(store)).values()].every((n) => n === 1));
});

Deno.test("lake writer: a crash between the files of one flush is completed by the rerun", async () => {
  const { store, writer } = await setup();
  const first = writer();
  feed(first, 0, 4, H1);
  await first.flush(TP); // only the hour-01 file made it
  const second = writer();
  feed(second, 0, 4, H1);
  feed(second, 5, 8, H2);
  assert.deepEqual(await second.flush(TP), { files: 1, rows: 4, commit: 9 });
  assert.equal((await lakeOffsets(store)).size, 9);
});

Deno.test("lake writer: a chain of crashes never writes an offset twice", async () => {
  const { store, writer } = await setup();
  // Each "run" restarts from offset 0 (nothing ever committed) and reads a different amount.
  // A record's hour is fixed by its offset (Kafka data never changes); two hours interleave.
  const hourOf = (o: number) => (o % 3 === 0 ? H2 : H1);
  for (const upTo of [4, 11, 7, 20, 15, 2, 25]) {
    const w = writer();
    for (let o = 0; o <= upTo; o++) w.add(message(o, hourOf(o)), 0);
    await w.flush(TP);
  }
  const offsets = await lakeOffsets(store);
  assert.ok([...offsets.values()].every((n) => n === 1), JSON.stringify([...offsets]));
  assert.equal(offsets.size, 26);
});

Deno.test("lake writer: poison messages go to the errors table with their coordinates", async () => {
  const { store, writer } = await setup();
  const w = writer();
  w.add({
    ...TP,
    offset: 0,
    timestamp: H1,
    key: "k",
    value: new TextEncoder().encode("{oops"),
    headers: {},
  }, 0);
  w.add({
    ...TP,
    offset: 1,
    timestamp: H1,
    key: "k",
    value: new TextEncoder().encode("{}"),
    headers: { "cryptopipe-schema": "other.v9" },
  }, 0);
  w.add(message(2, H1), 0);
  assert.equal((await w.flush(TP)).commit, 3);
  const [errorFile] = await store.list("ticker_errors");
  const rows = new TextDecoder().decode(await store.read(errorFile)).trimEnd().split("\n").map((
    l,
  ) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r._kafka_offset, r.payload]), [[0, "{oops"], [1, "{}"]]);
  assert.match(rows[0].error, /not JSON/);
  assert.match(rows[1].error, /unknown schema "other.v9"/);
  assert.equal(w.stats.errorRows, 2);
});

Deno.test("lake writer (fault-injecting store wrapper): a failed write forgets the partition, so nothing commits past the lost rows", async () => {
  const { store, writer } = await setup();
  let failNext = true;
  const flaky = Object.assign(Object.create(store), {
    createOnce(key: string, bytes: Uint8Array) {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("disk full"));
      }
      return store.createOnce(key, bytes);
    },
    // Discovery lists the bucket's folder (compacted files); the real store answers.
    list: (prefix: string) => store.list(prefix),
  });
  const w = writer(flaky);
  feed(w, 0, 4);
  await assert.rejects(() => w.flush(TP), /disk full/);
  // The same writer must not report offset 5 as committable without rows 0..4 in the lake.
  // Nor may a later batch (offsets 5..9, already waiting) be committed: the writer stays failed.
  feed(w, 5, 9);
  await assert.rejects(() => w.flush(TP), /disk full/);
  // The restart: a new writer re-reads from the last commit.
  const restarted = writer();
  feed(restarted, 0, 9);
  assert.deepEqual(await restarted.flush(TP), { files: 1, rows: 10, commit: 10 });
});

Deno.test("lake writer: a poison message with a nonsense Kafka time goes to a fixed partition", async () => {
  const { store, writer } = await setup();
  const w = writer();
  w.add({
    ...TP,
    offset: 0,
    timestamp: 1_732_449_600_000_000_000,
    key: null,
    value: new TextEncoder().encode("x"),
    headers: {},
  }, 0);
  await w.flush(TP);
  assert.deepEqual(await store.list("ticker_errors"), [
    "ticker_errors/dt=1970-01-01/hour=00/t+0+00000000000000000000.jsonl",
  ]);
});

Deno.test("lake writer: a file under our name from a re-created topic stops the writer instead of skipping new rows", async () => {
  const { store, writer } = await setup();
  const old = writer();
  feed(old, 0, 4);
  await old.flush(TP);
  // The topic was deleted and re-created: offsets 0.. again, with other Kafka timestamps.
  const fresh = writer();
  for (let o = 0; o <= 4; o++) fresh.add({ ...message(o, H1), timestamp: H1 + 3_600_000 }, 0);
  await assert.rejects(() => fresh.flush(TP), /re-created/);
  assert.equal((await lakeOffsets(store)).size, 5, "the old file is untouched");
});

Deno.test("lake writer: an unknown schema version is a dead letter with its own code and counter", async () => {
  const { store, writer } = await setup();
  const w = writer();
  const v2 = (offset: number, headers: Record<string, string>, body: unknown) => ({
    ...TP,
    offset,
    timestamp: H1,
    key: null,
    value: new TextEncoder().encode(JSON.stringify(body)),
    headers,
  });
  w.add(v2(0, { "cryptopipe-schema": "cryptopipe.ticker.v2" }, { any: 1 }), 0);
  w.add(v2(1, {}, { schema: "cryptopipe.ticker.v9", price: 1 }), 0);
  w.add(v2(2, {}, { schema: "cryptopipe.ticker.v1", price: -1 }), 0);
  w.add({ ...v2(3, {}, {}), value: new Uint8Array([0xff, 0x00, 0x7b]) }, 0);
  assert.deepEqual([w.stats.errorRows, w.stats.unknownSchema, w.stats.rows], [4, 2, 0]);
  await w.flush(TP);
  const [key] = await store.list("ticker_errors");
  const rows = new TextDecoder().decode(await store.read(key)).trimEnd().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(rows.map((r) => r.error_code), [
    "unknown_schema_version",
    "unknown_schema_version",
    "invalid_record",
    "not_json",
  ]);
  assert.deepEqual(
    [...Uint8Array.from(atob(rows[3].payload_base64), (c) => c.charCodeAt(0))],
    [0xff, 0x00, 0x7b],
    "the exact raw bytes are kept",
  );
});

Deno.test("lake writer: files from before the first-timestamp metadata are trusted by offset, not taken for a re-created topic", async () => {
  const { store, writer } = await setup();
  const jsonl = createEncoder("jsonl");
  // An encoder that reads coverage the way an older file answers: no first timestamp.
  const older = Object.assign(Object.create(jsonl), {
    coverage: (bytes: Uint8Array) => ({ ...jsonl.coverage(bytes), firstTimestamp: NaN }),
  });
  const first = writer(store, older);
  feed(first, 0, 4);
  await first.flush(TP);
  const second = writer(store, older);
  feed(second, 0, 9);
  assert.deepEqual(await second.flush(TP), { files: 1, rows: 5, commit: 10 });
  assert.ok([...(await lakeOffsets(store)).values()].every((n) => n === 1));
});

Deno.test("lake writer: a replay skips what a compacted file covers, holds the commit inside it, and writes only the rest", async () => {
  const { store, writer } = await setup();
  const parquet = createEncoder("parquet");
  const first = writer(store, parquet);
  feed(first, 0, 9);
  await first.flush(TP);
  // What compaction leaves: one file named by its range (offsets 0..9), the small one gone.
  const [small] = await store.list("ticker");
  const bytes = await store.read(small);
  const compacted = small.replace(
    "t+0+00000000000000000000.parquet",
    "t+0+00000000000000000000-00000000000000000009.parquet",
  );
  await store.createOnce(compacted, bytes);
  await store.delete(small);

  // A replay from the beginning (group reset) in two flushes: the first is entirely covered.
  const replay = writer(store, parquet);
  feed(replay, 0, 5);
  assert.deepEqual(await replay.flush(TP), { files: 0, rows: 0, commit: undefined });
  feed(replay, 6, 14);
  assert.deepEqual(await replay.flush(TP), { files: 1, rows: 5, commit: 15 });
  assert.deepEqual(await store.list("ticker"), [
    compacted,
    "ticker/dt=2026-11-24/hour=01/t+0+00000000000000000010.parquet",
  ]);
  assert.equal(replay.stats.skippedExisting, 10);
});

Deno.test("lake writer: a compacted file of a re-created topic (other Kafka times) stops the replay instead of skipping", async () => {
  const { store, writer } = await setup();
  const parquet = createEncoder("parquet");
  const first = writer(store, parquet);
  feed(first, 0, 4);
  await first.flush(TP);
  const [small] = await store.list("ticker");
  await store.createOnce(
    small.replace(".parquet", "-00000000000000000004.parquet"),
    await store.read(small),
  );
  await store.delete(small);
  const recreated = writer(store, parquet);
  for (let o = 0; o <= 4; o++) recreated.add({ ...message(o, H1), timestamp: H1 + 1 }, 0);
  await assert.rejects(() => recreated.flush(TP), /re-created/);
});
