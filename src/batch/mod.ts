/**
 * Stage door: batching for the lake. One PartitionBuffer per Kafka partition holds rows in
 * buckets, one per output file: (table, dt, hour). A flush always takes every bucket of the
 * partition, so the partition's offset can be committed right after.
 *
 * Rotation rules (lake-and-delivery.md §2.2). Record-derived cuts depend only on the record
 * stream, so a replay cuts at the same offsets: a bucket reaching `maxRecords` or `maxBytes`
 * (after the row), a row whose event time is `maxSpanMs` past its bucket's first row, or a
 * row that would open bucket number `maxOpenFiles + 1` (before the row). Wall-clock cuts
 * (`maxAgeMs`, `maxIdleMs`, memory pressure, shutdown) are not deterministic; they are safe
 * only because the lake writer recovers from files an earlier cut already wrote (§2.4).
 */
import type { TimePartition } from "../store/mod.ts";

export interface BatchLimits {
  /** Cut after a bucket holds this many rows. */
  readonly maxRecords: number;
  /** Cut after a bucket holds this many bytes of input (message values). */
  readonly maxBytes: number;
  /** Cut before a row whose event time is this far past its bucket's first row. */
  readonly maxSpanMs: number;
  /** Cut before a row that would open one bucket more than this. */
  readonly maxOpenFiles: number;
  /** Flush a partition whose oldest buffered row arrived this long ago (freshness). */
  readonly maxAgeMs: number;
  /** Flush a partition that received nothing for this long. */
  readonly maxIdleMs: number;
}

export interface Bucket {
  readonly table: string;
  readonly part: TimePartition;
  readonly rows: Record<string, unknown>[];
  /** Kafka offsets of the rows, in order (parallel to rows). */
  readonly offsets: number[];
  /** Event time of the first row (epoch ms), for the span rule. */
  readonly firstEventMs: number;
  bytes: number;
}

/** One row on its way into a bucket. */
export interface BufferedRow {
  readonly offset: number;
  readonly table: string;
  readonly part: TimePartition;
  readonly row: Record<string, unknown>;
  /** Input size (the message value), counted against maxBytes and memory. */
  readonly bytes: number;
  readonly eventMs: number;
}

export type FlushReason =
  | "records"
  | "bytes"
  | "span"
  | "open_files"
  | "age"
  | "idle"
  | "memory"
  | "until_idle"
  | "shutdown";

export function bucketId(table: string, part: TimePartition): string {
  return `${table}/${part.dt}/${part.hour}`;
}

export class PartitionBuffer {
  readonly #buckets = new Map<string, Bucket>();
  #count = 0;
  #bytes = 0;
  #openedAt: number | undefined;
  #lastAddedAt: number | undefined;
  #cut: FlushReason | undefined;
  /** One past the last offset taken in; lower offsets are re-deliveries and are ignored. */
  #next: number | undefined;

  constructor(readonly topic: string, readonly partition: number) {}

  get size(): number {
    return this.#count;
  }

  /** Input bytes buffered (message values). */
  get bytes(): number {
    return this.#bytes;
  }

  /** One past the last offset added (undefined before the first). */
  get nextOffset(): number | undefined {
    return this.#next;
  }

  /** A re-delivered offset, already taken in. */
  isDuplicate(offset: number): boolean {
    return this.#next !== undefined && offset < this.#next;
  }

  /** The record-derived cut that must happen before `entry` is added, if any. */
  cutBefore(entry: BufferedRow, limits: BatchLimits): FlushReason | undefined {
    if (this.#count === 0) return undefined;
    const bucket = this.#buckets.get(bucketId(entry.table, entry.part));
    if (!bucket) return this.#buckets.size >= limits.maxOpenFiles ? "open_files" : undefined;
    return entry.eventMs - bucket.firstEventMs >= limits.maxSpanMs ? "span" : undefined;
  }

  /** Add one row; returns false for an offset already taken (a re-delivery). */
  add(entry: BufferedRow, now: number, limits: BatchLimits): boolean {
    if (this.isDuplicate(entry.offset)) return false;
    const id = bucketId(entry.table, entry.part);
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      bucket = {
        table: entry.table,
        part: entry.part,
        rows: [],
        offsets: [],
        firstEventMs: entry.eventMs,
        bytes: 0,
      };
      this.#buckets.set(id, bucket);
    }
    bucket.rows.push(entry.row);
    bucket.offsets.push(entry.offset);
    bucket.bytes += entry.bytes;
    this.#bytes += entry.bytes;
    this.#count++;
    this.#openedAt ??= now;
    this.#lastAddedAt = now;
    this.#next = entry.offset + 1;
    if (bucket.rows.length >= limits.maxRecords) this.#cut ??= "records";
    else if (bucket.bytes >= limits.maxBytes) this.#cut ??= "bytes";
    return true;
  }

  /** Why this partition should be flushed now, if it should. */
  due(now: number, limits: BatchLimits): FlushReason | undefined {
    if (this.#count === 0) return undefined;
    if (this.#cut) return this.#cut;
    if (this.#openedAt !== undefined && now - this.#openedAt >= limits.maxAgeMs) return "age";
    if (this.#lastAddedAt !== undefined && now - this.#lastAddedAt >= limits.maxIdleMs) {
      return "idle";
    }
    return undefined;
  }

  /** Take every bucket out; the buffer is empty afterwards and keeps its next offset. */
  drain(): Bucket[] {
    const buckets = [...this.#buckets.values()];
    this.#buckets.clear();
    this.#count = 0;
    this.#bytes = 0;
    this.#openedAt = undefined;
    this.#cut = undefined;
    return buckets;
  }
}
