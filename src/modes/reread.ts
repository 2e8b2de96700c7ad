/**
 * consume --reread: read a bounded range of the topic again (one partition's offsets, or a
 * range of Kafka timestamps, which are produce times, not event times) into a separate table,
 * through the same lake writer and encoder as consume. It reads with a throwaway consumer
 * group that never commits, so the lake group's committed offsets stay as they are.
 *
 * The target table follows the lake layout and the write-once rule, and offsets it already
 * holds are skipped: the same or an overlapping re-read into it adds each offset only once. Records go to --into-table, records consume could not
 * accept to <into-table>_errors.
 */
import { createBus, createGroupAdmin, type OffsetRange } from "../bus/mod.ts";
import { createEncoder } from "../encode/mod.ts";
import { DEDUP_SUFFIX, TABLE_SUFFIX_RULE } from "../config/names.ts";
import { UsageError } from "../errors.ts";
import { createStore, parseFileName, type Store } from "../store/mod.ts";
import type { ModeContext } from "./context.ts";
import { batchLimits } from "./consume.ts";
import { LakeWriter } from "./lake_writer.ts";
import { logExtent, parseKafkaTime, parsePartitionList, selectPartitions } from "./reset.ts";

export interface RereadSummary {
  readonly table: string;
  readonly ranges: readonly OffsetRange[];
  readonly rows: number;
  readonly errorRows: number;
  readonly files: number;
  readonly skippedExisting: number;
}

/** What was asked: offsets of one partition, or a time window (all or some partitions). */
type RereadRequest =
  | {
    readonly kind: "offsets";
    readonly partition: number;
    readonly from: number;
    readonly to: number;
  }
  | {
    readonly kind: "time";
    readonly partitions: readonly number[] | undefined;
    readonly fromMs: number;
    readonly toMs: number;
  };

const TABLE_NAME = /^[a-z][a-z0-9_]{0,56}$/;

function offsetFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`Invalid ${flag} ${JSON.stringify(text)}: expected an offset (0 or more)`);
  }
  return Number(text);
}

/** Check the flags before anything connects; every mistake is one line and exit 2. */
export function rereadRequest(flags: ModeContext["flags"]): RereadRequest {
  const byOffset = flags.fromOffset !== undefined || flags.toOffset !== undefined;
  const byTime = flags.fromTime !== undefined || flags.toTime !== undefined;
  if (byOffset === byTime) {
    throw new UsageError(
      "--reread needs a range: --partition P --from-offset A --to-offset B, " +
        "or --from-time T1 --to-time T2 (Kafka produce times)",
    );
  }
  const partitions = parsePartitionList(flags.partitions);
  if (byOffset) {
    const from = offsetFlag(flags.fromOffset, "--from-offset");
    const to = offsetFlag(flags.toOffset, "--to-offset");
    if (partitions?.length !== 1 || from === undefined || to === undefined) {
      throw new UsageError(
        "--reread by offsets needs exactly one --partition P, --from-offset A and --to-offset B",
      );
    }
    if (to < from) {
      throw new UsageError(`Invalid --to-offset ${to}: it is before --from-offset ${from}`);
    }
    // --to-offset is inclusive, like the range an operator reads off a log: 100 to 199.
    return { kind: "offsets", partition: partitions[0], from, to: to + 1 };
  }
  if (flags.fromTime === undefined || flags.toTime === undefined) {
    throw new UsageError("--reread by time needs both --from-time and --to-time");
  }
  const fromMs = parseKafkaTime(flags.fromTime, "--from-time");
  const toMs = parseKafkaTime(flags.toTime, "--to-time");
  if (toMs <= fromMs) {
    throw new UsageError(`Invalid --to-time ${flags.toTime}: it is not after --from-time`);
  }
  return { kind: "time", partitions, fromMs, toMs };
}

/** The table names the re-read writes; never the live tables. */
export function rereadTables(
  config: ModeContext["config"],
  into: string | undefined,
): { records: string; errors: string } {
  if (into === undefined) {
    throw new UsageError(
      "--reread needs --into-table NAME: the range goes to a table of its own, never the live one",
    );
  }
  if (!TABLE_NAME.test(into)) {
    throw new UsageError(
      `Invalid --into-table ${JSON.stringify(into)}: lower-case a-z 0-9 _, starting with a letter`,
    );
  }
  if (into.endsWith(DEDUP_SUFFIX)) {
    throw new UsageError(`Invalid --into-table ${into}: ${TABLE_SUFFIX_RULE}`);
  }
  const tables = { records: into, errors: `${into}_errors` };
  const live = [config.store.table, config.store.errors_table];
  if (live.includes(tables.records) || live.includes(tables.errors)) {
    throw new UsageError(
      `Invalid --into-table ${into}: it (or ${tables.errors}) is a live table of store.table / ` +
        "store.errors_table; choose another name",
    );
  }
  return tables;
}

export async function reread(
  ctx: ModeContext,
  store: Store = createStore(ctx.config),
): Promise<RereadSummary> {
  const { config, logger, flags } = ctx;
  const topic = config.bus.topic;
  const request = rereadRequest(flags);
  const tables = rereadTables(config, flags.intoTable);
  const bus = createBus(config, logger);
  const admin = createGroupAdmin(config, logger);
  try {
    const logs = await bus.topicOffsets(topic);
    let ranges: OffsetRange[];
    if (request.kind === "offsets") {
      const [log] = selectPartitions(logs, [request.partition], topic);
      if (request.from < log.low || request.to > log.high) {
        throw new UsageError(
          `Invalid range ${request.from} to ${request.to - 1} of partition ${log.partition}: ` +
            logExtent(log),
        );
      }
      ranges = [{ partition: log.partition, from: request.from, to: request.to }];
    } else {
      const chosen = selectPartitions(logs, request.partitions, topic);
      const starts = await admin.offsetsAtTime(topic, request.fromMs);
      const ends = await admin.offsetsAtTime(topic, request.toMs);
      ranges = chosen.map((log) => ({
        partition: log.partition,
        from: Math.max(starts.get(log.partition) ?? log.high, log.low),
        to: Math.min(ends.get(log.partition) ?? log.high, log.high),
      }));
    }
    // Ranges read before into the same table, even overlapping ones: their rows are skipped,
    // so the table holds each (partition, offset) at most once.
    const held = await offsetsHeld(store, [tables.records, tables.errors], topic, ranges);
    let alreadyHeld = 0;
    const writer = new LakeWriter(
      store,
      createEncoder(config.encode.format, {
        rowGroupSize: config.encode.row_group_size,
        gzip: config.encode.gzip,
      }),
      tables,
      // Deterministic cuts only: a re-read of the same range gives the same files.
      { ...batchLimits(config.batch), maxAgeMs: Infinity, maxIdleMs: Infinity },
      logger,
    );
    logger.info("re-reading", {
      topic,
      ranges: ranges.map((r) => `${r.partition}:${r.from}..${r.to - 1}`).join(","),
      into: `${tables.records} (${store.describe})`,
    });
    const timeWindow = request.kind === "time" ? request : undefined;
    await admin.readRange(topic, ranges, async (messages) => {
      const now = Date.now();
      for (const message of messages) {
        // Produce times are not strictly ordered within a partition (clock steps, retries):
        // the offset range comes from the broker's index, the rows must also lie in the window.
        if (
          timeWindow &&
          (message.timestamp < timeWindow.fromMs || message.timestamp >= timeWindow.toMs)
        ) continue;
        if (held.get(message.partition)?.has(message.offset)) {
          alreadyHeld++;
          continue;
        }
        const row = writer.prepare(message);
        if (!row) continue;
        const before = writer.cutBefore(message, row);
        if (before) await writer.flush(message);
        writer.accept(message, row, now);
        if (writer.dueFor(message, now)) await writer.flush(message);
      }
    }, ctx.signal);
    for (const tp of writer.partitions()) await writer.flush(tp);
    const summary: RereadSummary = {
      table: tables.records,
      ranges,
      rows: writer.stats.rows,
      errorRows: writer.stats.errorRows,
      files: writer.stats.files,
      skippedExisting: writer.stats.skippedExisting + alreadyHeld,
    };
    const stopped = ctx.signal.aborted ? " (stopped by a signal: the range is incomplete)" : "";
    await ctx.write(
      `re-read ${topic} into ${tables.records} (errors: ${tables.errors}) on ${store.describe}${stopped}\n` +
        ranges.map((r) =>
          r.to > r.from
            ? `  partition ${r.partition}: offsets ${r.from} to ${r.to - 1}\n`
            : `  partition ${r.partition}: nothing in the range\n`
        ).join("") +
        `  rows ${summary.rows}, error rows ${summary.errorRows}, files ${summary.files}, ` +
        `rows already in the table ${summary.skippedExisting}\n` +
        "  the group's committed offsets were not touched\n",
    );
    return summary;
  } finally {
    await admin.close().catch(() => {});
    await bus.close().catch(() => {});
  }
}

/**
 * The offsets of `topic` the target tables already hold, per partition of the ranges. Read
 * from the rows themselves, not from file names or ranges: a file's offset range may include
 * offsets that went to another (dt, hour) file, which an interrupted run may never have written.
 */
async function offsetsHeld(
  store: Store,
  tables: readonly string[],
  topic: string,
  ranges: readonly OffsetRange[],
): Promise<Map<number, Set<number>>> {
  const byPartition = new Map(ranges.map((r) => [r.partition, r]));
  const held = new Map<number, Set<number>>();
  for (const table of tables) {
    for (const key of await store.list(table)) {
      const file = parseFileName(key.slice(key.lastIndexOf("/") + 1));
      const range = file?.topic === topic ? byPartition.get(file.partition) : undefined;
      if (!file || !range || file.firstOffset >= range.to) continue;
      const encoder = createEncoder(file.extension === "parquet" ? "parquet" : "jsonl");
      const offsets = held.get(file.partition) ?? new Set<number>();
      for (const row of await encoder.decode(await store.read(key))) {
        offsets.add(row._kafka_offset as number);
      }
      held.set(file.partition, offsets);
    }
  }
  return held;
}
