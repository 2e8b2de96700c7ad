/**
 * Stage door: file encoders. Each turns one bucket's rows into one file's bytes and can read
 * back which Kafka offsets a file covers, which is how consume recognizes its own earlier
 * writes after a crash (see store/ and modes/consume.ts).
 */
import type { Column } from "../record/mod.ts";
import { JsonLinesEncoder } from "./jsonl.ts";
import { ParquetEncoder } from "./parquet.ts";

export type Row = Record<string, unknown>;

/** The offsets one file holds, for one Kafka partition. */
export interface FileCoverage {
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly records: number;
  /** Kafka timestamp of the first row: tells a re-created topic's offsets from ours. */
  readonly firstTimestamp: number;
}

export interface Encoder {
  readonly format: "parquet" | "jsonl";
  readonly extension: string;
  /**
   * Rows must carry `_kafka_offset` and be in offset order, unless `coverage` is given (a
   * compacted file, sorted by symbol and time, states the offsets it covers itself).
   */
  encode(rows: readonly Row[], columns: readonly Column[], coverage?: FileCoverage): Uint8Array;
  coverage(bytes: Uint8Array): FileCoverage;
  decode(bytes: Uint8Array): Promise<Row[]>;
}

export function createEncoder(
  format: "parquet" | "jsonl",
  options: { rowGroupSize?: number; gzip?: boolean } = {},
): Encoder {
  switch (format) {
    case "parquet":
      return new ParquetEncoder(options.rowGroupSize ?? 100_000);
    case "jsonl":
      return new JsonLinesEncoder(options.gzip ?? false);
  }
}

/** Coverage written into every file's metadata, from its rows. */
export function coverageOf(rows: readonly Row[]): FileCoverage {
  if (rows.length === 0) throw new Error("coverage of an empty file");
  return {
    firstOffset: rows[0]._kafka_offset as number,
    lastOffset: rows[rows.length - 1]._kafka_offset as number,
    records: rows.length,
    firstTimestamp: rows[0]._kafka_timestamp as number,
  };
}
