/**
 * Parquet via hyparquet-writer (pure JS, snappy built in), so it works inside a compiled
 * binary without native addons. Each file records the Kafka offsets it covers in its
 * key-value metadata, so coverage is read from the footer without scanning rows.
 */
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { type BasicType, type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import type { Column, ColumnType } from "../record/mod.ts";
import { coverageOf, type Encoder, type FileCoverage, type Row } from "./mod.ts";

const PHYSICAL: Record<ColumnType, BasicType> = {
  string: "STRING",
  float64: "DOUBLE",
  int64: "INT64",
  int32: "INT32",
};

const META_FIRST = "cryptopipe.first_offset";
const META_LAST = "cryptopipe.last_offset";
const META_RECORDS = "cryptopipe.records";
const META_FIRST_TIMESTAMP = "cryptopipe.first_kafka_timestamp";

function columnData(rows: readonly Row[], column: Column): ColumnSource {
  const data = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i][column.name];
    if (value === null || value === undefined) data[i] = null;
    else if (column.type === "int64") data[i] = BigInt(value as number);
    else data[i] = value;
  }
  return { name: column.name, data, type: PHYSICAL[column.type], nullable: column.nullable };
}

export class ParquetEncoder implements Encoder {
  readonly format = "parquet";
  readonly extension = "parquet";

  constructor(readonly rowGroupSize: number) {}

  encode(
    rows: readonly Row[],
    columns: readonly Column[],
    coverage: FileCoverage = coverageOf(rows),
  ): Uint8Array {
    const buffer = parquetWriteBuffer({
      columnData: columns.map((c) => columnData(rows, c)),
      codec: "SNAPPY",
      rowGroupSize: this.rowGroupSize,
      createdBy: "cryptopipe",
      kvMetadata: [
        { key: META_FIRST, value: String(coverage.firstOffset) },
        { key: META_LAST, value: String(coverage.lastOffset) },
        { key: META_RECORDS, value: String(coverage.records) },
        { key: META_FIRST_TIMESTAMP, value: String(coverage.firstTimestamp) },
      ],
    });
    return new Uint8Array(buffer);
  }

  coverage(bytes: Uint8Array): FileCoverage {
    const metadata = parquetMetadata(toArrayBuffer(bytes));
    const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    const first = kv.get(META_FIRST);
    const last = kv.get(META_LAST);
    if (first === undefined || last === undefined) {
      throw new Error("not a cryptopipe Parquet file (no offset metadata)");
    }
    return {
      firstOffset: Number(first),
      lastOffset: Number(last),
      records: Number(metadata.num_rows),
      firstTimestamp: Number(kv.get(META_FIRST_TIMESTAMP)),
    };
  }

  async decode(bytes: Uint8Array): Promise<Row[]> {
    const rows = await parquetReadObjects({ file: toArrayBuffer(bytes) });
    return rows.map((row) => {
      const out: Row = {};
      for (const [k, v] of Object.entries(row)) out[k] = typeof v === "bigint" ? Number(v) : v;
      return out;
    });
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
