/**
 * JSON lines: one object per line, columns in schema order. Readable by anything. Optionally
 * gzip (`.jsonl.gz`; Athena and DuckDB read it by the extension); node's gzip writes no
 * timestamp, so the same rows give the same bytes.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import type { Column } from "../record/mod.ts";
import type { Encoder, FileCoverage, Row } from "./mod.ts";

export class JsonLinesEncoder implements Encoder {
  readonly format = "jsonl";
  readonly extension: string;

  constructor(readonly gzip = false) {
    this.extension = gzip ? "jsonl.gz" : "jsonl";
  }

  #text(bytes: Uint8Array): string {
    // Read either form, whatever this encoder writes: a lake may hold both.
    const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
    return new TextDecoder().decode(plain);
  }

  encode(rows: readonly Row[], columns: readonly Column[]): Uint8Array {
    const lines = rows.map((row) => {
      const ordered: Row = {};
      for (const column of columns) ordered[column.name] = row[column.name] ?? null;
      return JSON.stringify(ordered);
    });
    const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
    return this.gzip ? new Uint8Array(gzipSync(bytes)) : bytes;
  }

  decode(bytes: Uint8Array): Promise<Row[]> {
    const text = this.#text(bytes);
    return Promise.resolve(text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)));
  }

  coverage(bytes: Uint8Array): FileCoverage {
    const lines = this.#text(bytes).split("\n").filter((l) => l !== "");
    const first = JSON.parse(lines[0]);
    const last = JSON.parse(lines[lines.length - 1]);
    return {
      firstOffset: first._kafka_offset,
      lastOffset: last._kafka_offset,
      records: lines.length,
      firstTimestamp: first._kafka_timestamp,
    };
  }
}
