/**
 * The exactly-once oracle for end-to-end and fault tests (reliability-and-bench.md §2): the
 * lake, read back through a store, must hold every record of the topic exactly once, by
 * (partition, offset) and by content, with file offset ranges that never overlap.
 * kcat is the independent reader of the topic.
 */
import assert from "node:assert/strict";
import { createBus } from "../src/bus/mod.ts";
import type { LoadedConfig } from "../src/config/mod.ts";
import { configSchema } from "../src/config/schema.ts";
import { createEncoder, type Row } from "../src/encode/mod.ts";
import { silentLogger } from "../src/log.ts";
import { TICKER_COLUMNS } from "../src/record/mod.ts";
import type { Store } from "../src/store/mod.ts";
import { FileStore } from "../src/store/file.ts";
import { kcatDump } from "./helpers.ts";

export interface LakeCheck {
  readonly rows: number;
  readonly files: number;
  readonly partitions: number;
}

/** All rows of a table, with the file each came from. */
export async function readTable(
  store: Store,
  table: string,
): Promise<Array<{ key: string; rows: Row[] }>> {
  const files = [];
  for (const key of await store.list(table)) {
    const format = key.endsWith(".parquet") ? "parquet" : "jsonl";
    files.push({ key, rows: await createEncoder(format).decode(await store.read(key)) });
  }
  return files;
}

/**
 * Assert the lake table equals the topic: no loss, no duplicate, same content, disjoint file
 * ranges. `store` defaults to the local folder `lake`.
 */
export async function assertExactlyOnce(
  options: {
    brokers: string;
    topic: string;
    store: Store | string;
    table?: string;
  },
): Promise<LakeCheck> {
  const store = typeof options.store === "string" ? new FileStore(options.store) : options.store;
  const table = options.table ?? "ticker";
  const inTopic = new Map<string, string>();
  for (const m of await kcatDump(options.brokers, options.topic)) {
    inTopic.set(`${m.partition}:${m.offset}`, m.payload);
  }
  const files = await readTable(store, table);
  const seen = new Map<string, number>();
  const ranges = new Map<number, Array<{ first: number; last: number; key: string }>>();
  let rows = 0;
  for (const file of files) {
    for (const row of file.rows) {
      rows++;
      const id = `${row._kafka_partition}:${row._kafka_offset}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const payload = inTopic.get(id);
      assert.ok(payload !== undefined, `${file.key}: ${id} is not in the topic`);
      const sent = JSON.parse(payload);
      for (const column of TICKER_COLUMNS) {
        assert.deepEqual(
          row[column.name] ?? null,
          sent[column.name] ?? null,
          `${file.key}: ${id} column ${column.name} differs from the topic`,
        );
      }
    }
    const offsets = file.rows.map((r) => r._kafka_offset as number);
    const partition = file.rows[0]._kafka_partition as number;
    const list = ranges.get(partition) ?? [];
    list.push({ first: Math.min(...offsets), last: Math.max(...offsets), key: file.key });
    ranges.set(partition, list);
  }
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(
    duplicates.slice(0, 20),
    [],
    `${duplicates.length} records are in the lake twice`,
  );
  const missing = [...inTopic.keys()].filter((id) => !seen.has(id));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} records of the topic are missing`);
  // Interleaved buckets (hour=10 and hour=11 of one partition) may interleave offsets, so the
  // range check is on files of one bucket: same folder.
  for (const [partition, list] of ranges) {
    const byFolder = Map.groupBy(list, (r) => r.key.slice(0, r.key.lastIndexOf("/")));
    for (const [folder, inFolder] of byFolder) {
      inFolder.sort((a, b) => a.first - b.first);
      for (let i = 1; i < inFolder.length; i++) {
        assert.ok(
          inFolder[i].first > inFolder[i - 1].last,
          `partition ${partition} in ${folder}: ${inFolder[i - 1].key} and ${
            inFolder[i].key
          } overlap`,
        );
      }
    }
  }
  return { rows, files: files.length, partitions: ranges.size };
}

/**
 * Commit safety (reliability-and-bench.md §2, property 3): every offset below a partition's
 * committed offset is durable in the lake. Read the commits first, then the lake (which only
 * grows), so a commit made after its write always finds that write.
 */
export async function assertCommitsDurable(
  options: { brokers: string; topic: string; group: string; store: Store | string },
): Promise<Map<number, number>> {
  const store = typeof options.store === "string" ? new FileStore(options.store) : options.store;
  const bus = createBus(
    {
      ...configSchema.parse({ bus: { brokers: options.brokers.split(",") } }),
      file: "oracle",
      secrets: { sourceApiKeys: {} },
    } satisfies LoadedConfig,
    silentLogger,
  );
  try {
    const committed = await bus.committedOffsets(options.group, options.topic);
    const durable = new Map<number, Set<number>>();
    for (const file of await readTable(store, "ticker")) {
      for (const row of file.rows) {
        const partition = row._kafka_partition as number;
        if (!durable.has(partition)) durable.set(partition, new Set());
        durable.get(partition)!.add(row._kafka_offset as number);
      }
    }
    const inTopic = await kcatDump(options.brokers, options.topic);
    for (const [partition, next] of committed) {
      const have = durable.get(partition) ?? new Set<number>();
      const missing = inTopic.filter((m) =>
        m.partition === partition && m.offset < next && !have.has(m.offset)
      );
      assert.deepEqual(
        missing.slice(0, 10).map((m) => m.offset),
        [],
        `partition ${partition}: committed ${next}, but ${missing.length} offsets below it are not in the lake`,
      );
    }
    return committed;
  } finally {
    await bus.close();
  }
}
