/** JSON lines: one object per line, columns in schema order. Readable by anything. */
import type { Column } from "../record/mod.ts";
import type { Encoder, FileCoverage, Row } from "./mod.ts";

export class JsonLinesEncoder implements Encoder {
  readonly format = "jsonl";
  readonly extension = "jsonl";

  encode(rows: readonly Row[], columns: readonly Column[]): Uint8Array {
    const lines = rows.map((row) => {
      const ordered: Row = {};
      for (const column of columns) ordered[column.name] = row[column.name] ?? null;
      return JSON.stringify(ordered);
    });
    return new TextEncoder().encode(lines.join("\n") + "\n");
  }

  decode(bytes: Uint8Array): Promise<Row[]> {
    const text = new TextDecoder().decode(bytes);
    return Promise.resolve(text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)));
  }

  coverage(bytes: Uint8Array): FileCoverage {
    const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
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
