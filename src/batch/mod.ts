/**
 * Stage door: batching for the lake. One PartitionBuffer per Kafka partition holds rows in
 * buckets, one per output file: (table, dt, hour). Rotation rules are record-derived (count)
 * plus a flush interval for freshness; a flush always takes every bucket of the partition, so
 * the partition's offset can be committed right after.
 */
import type { TimePartition } from "../store/mod.ts";

export interface BatchLimits {
  /** Flush when any bucket holds this many rows. */
  readonly maxRecords: number;
  /** Flush when the oldest buffered row is this old. */
  readonly flushIntervalMs: number;
}

export interface Bucket {
  readonly table: string;
  readonly part: TimePartition;
  readonly rows: Record<string, unknown>[];
  /** Kafka offsets of the rows, in order (parallel to rows). */
  readonly offsets: number[];
}

export type FlushReason = "records" | "interval" | "idle" | "shutdown";

export function bucketId(table: string, part: TimePartition): string {
  return `${table}/${part.dt}/${part.hour}`;
}

export class PartitionBuffer {
  readonly #buckets = new Map<string, Bucket>();
  #count = 0;
  #openedAt: number | undefined;
  #largest = 0;
  /** One past the last offset taken in; lower offsets are re-deliveries and are ignored. */
  #next: number | undefined;

  constructor(readonly topic: string, readonly partition: number) {}

  get size(): number {
    return this.#count;
  }

  /** One past the last offset added (undefined before the first). */
  get nextOffset(): number | undefined {
    return this.#next;
  }

  /** Add one row; returns false for an offset already taken (a re-delivery). */
  add(
    offset: number,
    table: string,
    part: TimePartition,
    row: Record<string, unknown>,
    now: number,
  ): boolean {
    if (this.#next !== undefined && offset < this.#next) return false;
    const id = bucketId(table, part);
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      bucket = { table, part, rows: [], offsets: [] };
      this.#buckets.set(id, bucket);
    }
    bucket.rows.push(row);
    bucket.offsets.push(offset);
    this.#largest = Math.max(this.#largest, bucket.rows.length);
    this.#count++;
    this.#openedAt ??= now;
    this.#next = offset + 1;
    return true;
  }

  due(now: number, limits: BatchLimits): FlushReason | undefined {
    if (this.#count === 0) return undefined;
    if (this.#largest >= limits.maxRecords) return "records";
    if (this.#openedAt !== undefined && now - this.#openedAt >= limits.flushIntervalMs) {
      return "interval";
    }
    return undefined;
  }

  /** Take every bucket out; the buffer is empty afterwards and keeps its next offset. */
  drain(): Bucket[] {
    const buckets = [...this.#buckets.values()];
    this.#buckets.clear();
    this.#count = 0;
    this.#largest = 0;
    this.#openedAt = undefined;
    return buckets;
  }
}
