/**
 * The heart of consume: turns Kafka messages into lake files, exactly once as seen by readers.
 *
 * - Rows are buffered per Kafka partition in buckets (table, dt, hour); a flush writes every
 *   bucket of the partition and only then reports the offset that may be committed.
 * - Files are created write-once under names derived from their first offset. After a crash,
 *   the same committed offset yields the same first offsets, so a rewrite meets the earlier
 *   file ("exists"): its real coverage is read back from the file, covered rows are skipped
 *   and the rest go to a new file named after their own first offset.
 * - Compaction (catalog/compact.ts) replaces a bucket's files below the committed offset with
 *   one file named `<topic>+<partition>+<first>-<last>`; a replay (group reset, lagging group)
 *   lists each bucket once and skips every row such a file covers, so nothing lands twice.
 * - The hole to close (lake-and-delivery.md §2.4): a commit strictly inside a learned range
 *   would let a later restart start mid-file and write an overlapping file. So the commit is
 *   held until the flushed position passes every learned range.
 */
import { Buffer } from "node:buffer";
import {
  type BatchLimits,
  type Bucket,
  bucketId,
  type BufferedRow,
  type FlushReason,
  PartitionBuffer,
} from "../batch/mod.ts";
import type { IncomingMessage, TopicPartition } from "../bus/mod.ts";
import { coverageOf, type Encoder, type FileCoverage, type Row } from "../encode/mod.ts";
import { RuntimeFailure } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  decodeRecord,
  EARLIEST_TIME_MS,
  ERROR_COLUMNS,
  LAKE_COLUMNS,
  LATEST_TIME_MS,
  type RejectCode,
  SCHEMA_HEADER,
} from "../record/mod.ts";
import {
  fileMetadata,
  objectKey,
  parseCompactedFileName,
  partitionPrefix,
  readCoverage,
  type Store,
  timePartition,
} from "../store/mod.ts";

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
  /** Rows sent to the errors table (the dead letters), and of those, unknown schema ids. */
  errorRows: number;
  unknownSchema: number;
  files: number;
  bytesIn: number;
  skippedExisting: number;
  /** Rows and encoded bytes in lake files written, by table (for metrics). */
  rowsWritten: Record<string, number>;
  bytesWritten: number;
}

interface PartitionState {
  readonly buffer: PartitionBuffer;
  /** bucket id → last offset an existing file already covers. */
  readonly covered: Map<string, number>;
  /** The highest covered offset learned; no commit at or below it. */
  holdThrough: number | undefined;
  /**
   * bucket id → ranges of this partition that compacted files of the bucket cover, listed once
   * per bucket and assignment (a reset clears it). A replay skips every row they cover.
   */
  readonly compacted: Map<string, readonly OffsetRange[]>;
}

interface OffsetRange {
  readonly key: string;
  readonly first: number;
  readonly last: number;
}

/** A message turned into the row it becomes, before it enters a buffer. */
export interface PreparedRow extends BufferedRow {
  readonly rejected?: { readonly code: RejectCode; readonly error: string };
}

const LOGGED_INDIVIDUALLY = 20;

const partitionId = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

export class LakeWriter {
  readonly #partitions = new Map<string, PartitionState>();
  /** Set by a failed flush: every later flush fails too (see flush). */
  #failure: Error | undefined;
  readonly stats: LakeStats = {
    rows: 0,
    errorRows: 0,
    unknownSchema: 0,
    files: 0,
    bytesIn: 0,
    skippedExisting: 0,
    rowsWritten: {},
    bytesWritten: 0,
  };

  constructor(
    readonly store: Store,
    readonly encoder: Encoder,
    readonly tables: LakeTables,
    readonly limits: BatchLimits,
    readonly logger: Logger,
  ) {}

  #state(tp: TopicPartition): PartitionState {
    const id = partitionId(tp);
    let state = this.#partitions.get(id);
    if (!state) {
      state = {
        buffer: new PartitionBuffer(tp.topic, tp.partition),
        covered: new Map(),
        holdThrough: undefined,
        compacted: new Map(),
      };
      this.#partitions.set(id, state);
    }
    return state;
  }

  /** Drop every buffer uncommitted: after a rebalance all of it is read again. */
  reset(): void {
    this.#partitions.clear();
  }

  partitions(): TopicPartition[] {
    return [...this.#partitions.values()].map(({ buffer }) => ({
      topic: buffer.topic,
      partition: buffer.partition,
    }));
  }

  /** Input bytes buffered over all partitions. */
  get bufferedBytes(): number {
    let total = 0;
    for (const { buffer } of this.#partitions.values()) total += buffer.bytes;
    return total;
  }

  /** The partition holding the most buffered bytes (what a memory-pressure flush frees). */
  fullest(): TopicPartition | undefined {
    let best: PartitionBuffer | undefined;
    for (const { buffer } of this.#partitions.values()) {
      if (buffer.bytes > (best?.bytes ?? 0)) best = buffer;
    }
    return best && { topic: best.topic, partition: best.partition };
  }

  /** Decode a message into its row; undefined for a re-delivered offset. */
  prepare(message: IncomingMessage): PreparedRow | undefined {
    if (this.#state(message).buffer.isDuplicate(message.offset)) return undefined;
    const lineage = {
      _kafka_topic: message.topic,
      _kafka_partition: message.partition,
      _kafka_offset: message.offset,
      _kafka_timestamp: message.timestamp,
    };
    const bytes = message.value?.byteLength ?? 0;
    const schemaHeader = message.headers[SCHEMA_HEADER] ?? null;
    const decoded = decodeRecord(message.value, schemaHeader);
    if (decoded.ok) {
      const record = decoded.record;
      const eventMs = record.event_time ?? record.ingest_time;
      return {
        offset: message.offset,
        table: this.tables.records,
        part: timePartition(eventMs),
        // The record is a fresh object of the validator's: add the lineage in place, no copy.
        row: Object.assign(record, lineage),
        bytes,
        eventMs,
      };
    }
    const error = decoded.problems.join("; ");
    const row = {
      error_code: decoded.code,
      error,
      payload: message.value ? new TextDecoder().decode(message.value) : null,
      payload_base64: message.value ? Buffer.from(message.value).toString("base64") : null,
      key: message.key,
      schema_header: schemaHeader,
      ...lineage,
    };
    // Errors are partitioned by Kafka time: their event time is exactly what is not trusted.
    // A nonsense Kafka time gets a fixed partition (not "now"): names must be the same on a rerun.
    const sane = message.timestamp >= EARLIEST_TIME_MS && message.timestamp < LATEST_TIME_MS;
    const eventMs = sane ? message.timestamp : 0;
    return {
      offset: message.offset,
      table: this.tables.errors,
      part: timePartition(eventMs),
      row,
      bytes,
      eventMs,
      rejected: { code: decoded.code, error },
    };
  }

  /** The record-derived cut due before this row enters its partition's buffer, if any. */
  cutBefore(tp: TopicPartition, prepared: PreparedRow): FlushReason | undefined {
    return this.#state(tp).buffer.cutBefore(prepared, this.limits);
  }

  accept(tp: TopicPartition, prepared: PreparedRow, now: number): void {
    if (!this.#state(tp).buffer.add(prepared, now, this.limits)) return;
    this.stats.bytesIn += prepared.bytes;
    if (!prepared.rejected) {
      this.stats.rows++;
      return;
    }
    this.stats.errorRows++;
    const fields = {
      topic: tp.topic,
      partition: tp.partition,
      offset: prepared.offset,
      code: prepared.rejected.code,
      error: prepared.rejected.error.slice(0, 200),
    };
    const total = prepared.rejected.code === "unknown_schema_version"
      ? ++this.stats.unknownSchema
      : this.stats.errorRows;
    // Every one of the first few, then every thousandth: a flood must not drown the log (the
    // progress line carries the totals every 10 s).
    if (total > LOGGED_INDIVIDUALLY && total % 1000 !== 0) return;
    if (prepared.rejected.code === "unknown_schema_version") {
      // Its own message and counter: a producer upgrade must be visible at once.
      this.logger.warn("record with an unknown schema version kept in the errors table", {
        ...fields,
        unknown_schema_total: this.stats.unknownSchema,
      });
    } else {
      this.logger.warn("poison record kept in the errors table", {
        ...fields,
        dead_letters_total: this.stats.errorRows,
      });
    }
  }

  /** Prepare and accept, without a cut check (for callers that handle cuts themselves). */
  add(message: IncomingMessage, now: number): void {
    const prepared = this.prepare(message);
    if (prepared) this.accept(message, prepared, now);
  }

  dueFor(tp: TopicPartition, now: number): FlushReason | undefined {
    return this.#partitions.get(partitionId(tp))?.buffer.due(now, this.limits);
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
    if (this.#failure) throw this.#failure;
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
      // The drained rows are gone from memory: nothing may be committed past them, by this
      // flush or any later one (a batch may already be waiting with later offsets). So the
      // writer stays failed; the mode exits and the restart re-reads from the last commit.
      this.#partitions.delete(partitionId(tp));
      this.#failure = error as Error;
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
    const compacted = await this.#compactedRanges(tp, state, bucket);
    let start = firstAfter(bucket.offsets, state.covered.get(id));
    let files = 0;
    let rows = 0;
    while (start < bucket.rows.length) {
      const offset = bucket.offsets[start];
      const inside = compacted.find((r) => r.first <= offset && offset <= r.last);
      if (inside) {
        // A compacted file already holds these rows: skip them, and never commit inside it.
        await this.#checkIncarnation(inside, bucket, start);
        const next = firstAfter(bucket.offsets, inside.last);
        this.stats.skippedExisting += next - start;
        state.holdThrough = Math.max(state.holdThrough ?? -1, inside.last);
        this.logger.info("compacted file already in the lake, skipping the rows it covers", {
          key: inside.key,
          first_offset: inside.first,
          last_offset: inside.last,
        });
        start = next;
        continue;
      }
      // A file stops before the next compacted range, so it never overlaps one.
      const nextRange = compacted.filter((r) => r.first > offset).reduce(
        (low, r) => Math.min(low, r.first),
        Infinity,
      );
      const end = Number.isFinite(nextRange)
        ? firstAfter(bucket.offsets, nextRange - 1)
        : bucket.rows.length;
      const key = objectKey(
        bucket.table,
        bucket.part,
        tp.topic,
        tp.partition,
        offset,
        this.encoder.extension,
      );
      const slice = bucket.rows.slice(start, end);
      const bytes = this.encoder.encode(slice, columns);
      this.logger.debug("writing file", { key, rows: slice.length, bytes: bytes.byteLength });
      const result = await this.store.createOnce(key, bytes, fileMetadata(coverageOf(slice)));
      await heartbeat();
      if (result === "created") {
        files++;
        rows += slice.length;
        this.stats.files++;
        this.stats.rowsWritten[bucket.table] = (this.stats.rowsWritten[bucket.table] ?? 0) +
          slice.length;
        this.stats.bytesWritten += bytes.byteLength;
        this.logger.debug("file written", { key, rows: slice.length });
        start = end;
        continue;
      }
      // An earlier run wrote this name: learn what it holds and continue after it.
      const coverage = await readCoverage(this.store, this.encoder, key);
      assertSameIncarnation(key, coverage, slice[0]);
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

  /**
   * When the replay holds the compacted file's first offset, it must be the same Kafka record
   * (same timestamp): a re-created topic restarts its offsets, and skipping would drop new data.
   */
  async #checkIncarnation(range: OffsetRange, bucket: Bucket, from: number): Promise<void> {
    const at = firstAfter(bucket.offsets, range.first - 1);
    if (at < from || bucket.offsets[at] !== range.first) return;
    const coverage = await readCoverage(this.store, this.encoder, range.key);
    assertSameIncarnation(range.key, coverage, bucket.rows[at]);
  }

  /** This partition's compacted ranges in the bucket's folder (one listing per assignment). */
  async #compactedRanges(
    tp: TopicPartition,
    state: PartitionState,
    bucket: Bucket,
  ): Promise<readonly OffsetRange[]> {
    const id = bucketId(bucket.table, bucket.part);
    let ranges = state.compacted.get(id);
    if (!ranges) {
      const found: OffsetRange[] = [];
      for (const key of await this.store.list(partitionPrefix(bucket.table, bucket.part))) {
        const name = parseCompactedFileName(key.slice(key.lastIndexOf("/") + 1));
        if (name?.topic === tp.topic && name.partition === tp.partition) {
          found.push({ key, first: name.firstOffset, last: name.lastOffset });
        }
      }
      ranges = found;
      state.compacted.set(id, ranges);
    }
    return ranges;
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

/**
 * A file under our name holds the same offset with a different Kafka timestamp: the topic was
 * deleted and re-created, and its offsets restarted. Skipping "covered" rows would then drop
 * new data, so stop with a clear message instead.
 */
function assertSameIncarnation(key: string, existing: FileCoverage, ours: Row): void {
  const ourOffset = ours._kafka_offset as number;
  const ourTimestamp = ours._kafka_timestamp as number;
  // Files written before the timestamp was recorded cannot be checked: trust their offsets.
  const unknown = !Number.isFinite(existing.firstTimestamp);
  if (existing.firstOffset === ourOffset && (unknown || existing.firstTimestamp === ourTimestamp)) {
    return;
  }
  throw new RuntimeFailure(
    `The lake already holds ${key}, written from different Kafka data (offset ${existing.firstOffset} ` +
      `with Kafka time ${existing.firstTimestamp}, now offset ${ourOffset} has ${ourTimestamp}). ` +
      "The topic was probably deleted and re-created, so its offsets started again. Move the old " +
      "files away or consume into another table or prefix; nothing was written or committed.",
  );
}
