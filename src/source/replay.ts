/**
 * Replay a CSV file whose header names ticker v1 columns. Good rows become records; bad rows
 * (wrong column count, unparsable numbers, schema violations) become rejects with their line
 * number, so nothing in the file is silently lost. Historical event times are kept as they are.
 */
import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import type { SourceConfig } from "../config/mod.ts";
import { type Column, TICKER_COLUMNS, validateTicker } from "../record/mod.ts";
import type { Source, SourceClock, SourceItem } from "./mod.ts";
import { Pacer } from "./pacing.ts";
import { UsageError } from "../errors.ts";

type ReplayConfig = Extract<SourceConfig, { type: "replay" }>;

const BATCH = 1000;
const COLUMN_BY_NAME = new Map<string, Column>(TICKER_COLUMNS.map((c) => [c.name, c]));

/** One CSV cell to its typed value; undefined means "not a valid value". */
function cellValue(column: Column, cell: string): unknown {
  if (cell === "") return null;
  if (column.type === "string") return cell;
  const n = Number(cell);
  return cell.trim() === "" || Number.isNaN(n) ? cell : n;
}

export function rowToItem(
  header: readonly string[],
  cells: readonly string[],
  raw: string,
  origin: string,
  now: number,
): SourceItem {
  if (cells.length !== header.length) {
    return {
      kind: "rejected",
      rejected: {
        raw,
        origin,
        problems: [`expected ${header.length} columns, found ${cells.length}`],
      },
    };
  }
  const value: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const column = COLUMN_BY_NAME.get(name);
    value[name] = column ? cellValue(column, cells[i]) : cells[i];
  });
  // Files exported elsewhere often lack ingest_time: the replay time is the honest value.
  if (value.ingest_time === null || value.ingest_time === undefined) value.ingest_time = now;
  const result = validateTicker(value);
  return result.ok
    ? { kind: "record", record: result.record }
    : { kind: "rejected", rejected: { raw, origin, problems: result.problems } };
}

export class ReplaySource implements Source {
  #bytesRead = 0;
  #bytesTotal = 0;

  constructor(readonly name: string, readonly config: ReplayConfig, readonly clock: SourceClock) {}

  progress(): { done: number; total: number } {
    return { done: this.#bytesRead, total: this.#bytesTotal };
  }

  async *items(signal: AbortSignal): AsyncIterable<SourceItem[]> {
    try {
      this.#bytesTotal = (await Deno.stat(this.config.path)).size;
    } catch {
      throw new UsageError(
        `Cannot replay ${this.config.path} (sources.${this.name}.path): file not found`,
      );
    }
    const parser = createReadStream(this.config.path).pipe(
      parse({
        relax_column_count: true,
        relax_quotes: true,
        raw: true,
        info: true,
        skip_empty_lines: true,
        bom: true,
      }),
    );
    const pacer = new Pacer(this.config.rate_per_second, this.clock);
    let header: string[] | undefined;
    let batch: SourceItem[] = [];
    for await (
      const { record, raw, info } of parser as AsyncIterable<
        { record: string[]; raw: string; info: { lines: number; bytes: number } }
      >
    ) {
      if (signal.aborted) break;
      this.#bytesRead = info.bytes;
      if (!header) {
        header = record.map((h) => h.trim());
        const unknown = header.filter((h) => !COLUMN_BY_NAME.has(h));
        if (unknown.length > 0) {
          throw new UsageError(
            `Cannot replay ${this.config.path}: unknown column ${
              JSON.stringify(unknown[0])
            } in the header`,
          );
        }
        continue;
      }
      if (this.config.rate_per_second > 0) await pacer.due(1, signal);
      batch.push(
        rowToItem(
          header,
          record,
          raw.replace(/\r?\n$/, ""),
          `${this.config.path}:${info.lines}`,
          this.clock.now(),
        ),
      );
      if (batch.length >= BATCH || this.config.rate_per_second > 0) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
    this.#bytesRead = this.#bytesTotal;
  }
}
