/**
 * The heart of consume: turns Kafka messages into lake files, exactly once as seen by readers.
 *
 * - Rows are buffered per Kafka partition in buckets (table, dt, hour); a flush writes every
 *   bucket of the partition and only then reports the offset that may be committed.
 * - Files are created write-once under names derived from their first offset. After a crash,
 *   the same committed offset yields the same first offsets, so a rewrite meets the earlier
 *   file ("exists"): its real coverage is read back from the file, covered rows are skipped
 *   and the rest go to a new file named after their own first offset.
 * - The hole to close (lake-and-delivery.md §2.4): a commit strictly inside a learned range
 *   would let a later restart start mid-file and write an overlapping file. So the commit is
 *   held until the flushed position passes every learned range.
 */
import {
  type BatchLimits,
  type Bucket,
  bucketId,
  type FlushReason,
  PartitionBuffer,
} from "../batch/mod.ts";
import type { IncomingMessage, TopicPartition } from "../bus/mod.ts";
import type { Encoder } from "../encode/mod.ts";
import type { Logger } from "../log.ts";
import {
  decodeRecord,
  EARLIEST_TIME_MS,
  ERROR_COLUMNS,
  LAKE_COLUMNS,
  LATEST_TIME_MS,
  SCHEMA_HEADER,
  TICKER_SCHEMA_ID,
} from "../record/mod.ts";
import { objectKey, type Store, timePartition } from "../store/mod.ts";

export interface LakeTables {
  readonly records: string;
  readonly errors: string;
}

export interface FlushResult {
  readonly files: number;
  readonly rows: number;
  /** Offset to commit, or undefined while a learned range holds the commit back. */
  readonly commit: number | undefined;
}

export interface LakeStats {
  rows: number;
  errorRows: number;
  files: number;
  skippedExisting: number;
}

interface PartitionState {
  readonly buffer: PartitionBuffer;
  /** bucket id → last offset an existing file already covers. */
  readonly covered: Map<string, number>;
  /** The highest covered offset learned; no commit at or below it. */
  holdThrough: number | undefined;
}

export class LakeWriter {
  readonly #partitions = new Map<string, PartitionState>();
  readonly stats: LakeStats = { rows: 0, errorRows: 0, files: 0, skippedExisting: 0 };

  constructor(
    readonly store: Store,
    readonly encoder: Encoder,
    readonly tables: LakeTables,
    readonly limits: BatchLimits,
    readonly logger: Logger,
  ) {}

  #state(tp: TopicPartition): PartitionState {
    const id = `${tp.topic}/${tp.partition}`;
    let state = this.#partitions.get(id);
    if (!state) {
      state = {
        buffer: new PartitionBuffer(tp.topic, tp.partition),
        covered: new Map(),
        holdThrough: undefined,
      };
      this.#partitions.set(id, state);
    }
    return state;
  }

  /** Forget partitions this member lost: their new owner re-reads from the committed offset. */
  keepOnly(assigned: readonly TopicPartition[]): void {
    const keep = new Set(assigned.map((tp) => `${tp.topic}/${tp.partition}`));
    for (const id of [...this.#partitions.keys()]) {
      if (!keep.has(id)) this.#partitions.delete(id);
    }
  }

  partitions(): TopicPartition[] {
    return [...this.#partitions.values()].map(({ buffer }) => ({
      topic: buffer.topic,
      partition: buffer.partition,
    }));
  }

  add(message: IncomingMessage, now: number): void {
    const { buffer } = this.#state(message);
    const lineage = {
      _kafka_topic: message.topic,
      _kafka_partition: message.partition,
      _kafka_offset: message.offset,
      _kafka_timestamp: message.timestamp,
    };
    const schemaHeader = message.headers[SCHEMA_HEADER] ?? null;
    const decoded = schemaHeader !== null && schemaHeader !== TICKER_SCHEMA_ID
      ? { ok: false as const, problems: [`unsupported schema ${JSON.stringify(schemaHeader)}`] }
      : decodeRecord(message.value);
    if (decoded.ok) {
      const record = decoded.record;
      const part = timePartition(record.event_time ?? record.ingest_time);
      if (buffer.add(message.offset, this.tables.records, part, { ...record, ...lineage }, now)) {
        this.stats.rows++;
      }
    } else {
      const row = {
        error: decoded.problems.join("; "),
        payload: message.value ? new TextDecoder().decode(message.value) : null,
        key: message.key,
        schema_header: schemaHeader,
        ...lineage,
      };
      // Errors are partitioned by Kafka time: their event time is exactly what is not trusted.
      // A nonsense Kafka time gets a fixed partition (not "now"): names must be the same on a rerun.
      const sane = message.timestamp >= EARLIEST_TIME_MS && message.timestamp < LATEST_TIME_MS;
      const part = timePartition(sane ? message.timestamp : 0);
      if (buffer.add(message.offset, this.tables.errors, part, row, now)) {
        this.stats.errorRows++;
        this.logger.warn("poison record kept in the errors table", {
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          error: row.error.slice(0, 200),
        });
      }
    }
  }

  dueFor(tp: TopicPartition, now: number): FlushReason | undefined {
    return this.#partitions.get(`${tp.topic}/${tp.partition}`)?.buffer.due(now, this.limits);
  }

  due(now: number): Array<{ tp: TopicPartition; reason: FlushReason }> {
    const result: Array<{ tp: TopicPartition; reason: FlushReason }> = [];
    for (const { buffer } of this.#partitions.values()) {
      const reason = buffer.due(now, this.limits);
      if (reason) result.push({ tp: { topic: buffer.topic, partition: buffer.partition }, reason });
    }
    return result;
  }

  /** Write every bucket of a partition; report what may be committed. */
  async flush(
    tp: TopicPartition,
    heartbeat: () => Promise<void> = () => Promise.resolve(),
  ): Promise<FlushResult> {
    const state = this.#state(tp);
    let files = 0;
    let rows = 0;
    try {
      for (const bucket of state.buffer.drain()) {
        const written = await this.#writeBucket(tp, state, bucket, heartbeat);
        files += written.files;
        rows += written.rows;
      }
    } catch (error) {
      // The drained rows are gone from memory: forget the partition so that nothing can be
      // committed past them. They are re-read from the last commit after the restart.
      this.#partitions.delete(`${tp.topic}/${tp.partition}`);
      throw error;
    }
    const next = state.buffer.nextOffset;
    if (next === undefined) return { files, rows, commit: undefined };
    if (state.holdThrough !== undefined && next <= state.holdThrough) {
      this.logger.info("commit held: an earlier file covers offsets beyond the flushed position", {
        partition: tp.partition,
        flushed_to: next - 1,
        held_through: state.holdThrough,
      });
      return { files, rows, commit: undefined };
    }
    // Everything learned lies below `next`: later rows cannot meet those files again.
    state.covered.clear();
    state.holdThrough = undefined;
    return { files, rows, commit: next };
  }

  async #writeBucket(
    tp: TopicPartition,
    state: PartitionState,
    bucket: Bucket,
    heartbeat: () => Promise<void>,
  ): Promise<{ files: number; rows: number }> {
    const id = bucketId(bucket.table, bucket.part);
    const columns = bucket.table === this.tables.errors ? ERROR_COLUMNS : LAKE_COLUMNS;
    let start = firstAfter(bucket.offsets, state.covered.get(id));
    let files = 0;
    let rows = 0;
    while (start < bucket.rows.length) {
      const key = objectKey(
        bucket.table,
        bucket.part,
        tp.topic,
        tp.partition,
        bucket.offsets[start],
        this.encoder.extension,
      );
      const slice = bucket.rows.slice(start);
      const result = await this.store.createOnce(key, this.encoder.encode(slice, columns));
      await heartbeat();
      if (result === "created") {
        files++;
        rows += slice.length;
        this.stats.files++;
        this.logger.debug("file written", { key, rows: slice.length });
        break;
      }
      // An earlier run wrote this name: learn what it holds and continue after it.
      const coverage = this.encoder.coverage(await this.store.read(key));
      state.covered.set(id, coverage.lastOffset);
      state.holdThrough = Math.max(state.holdThrough ?? -1, coverage.lastOffset);
      const next = firstAfter(bucket.offsets, coverage.lastOffset);
      this.stats.skippedExisting += next - start;
      this.logger.info("file already in the lake, skipping the rows it covers", {
        key,
        first_offset: coverage.firstOffset,
        last_offset: coverage.lastOffset,
      });
      start = next;
    }
    return { files, rows };
  }
}

/** Index of the first offset greater than `after` (0 when nothing is covered). */
function firstAfter(offsets: readonly number[], after: number | undefined): number {
  if (after === undefined) return 0;
  let low = 0;
  let high = offsets.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (offsets[mid] <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}
