/**
 * Compaction: rewrite the many small files of finished dt/hour partitions into one Parquet file
 * per (hour, Kafka partition), sorted by symbol and event time (lake-and-delivery.md §4).
 *
 * Exactly once across crashes, with the store's two primitives (create-once and delete):
 * 1. Only files whose offsets lie below the consumer group's committed offset are rewritten:
 *    those rows are durable and no live consumer writes them again. (The recovery of step 3
 *    runs first, in every hour: it deletes only files a compacted file already covers.)
 * 2. The new file is created once under `<topic>+<partition>+<first>-<last>.parquet`; its name
 *    states the range it covers, its footer (and S3 metadata) the offsets and row count.
 * 3. Only then are the files it replaces deleted, and only files whose every row is in the
 *    new file. A crash between 2 and 3 leaves both; the rerun finds the inputs inside a
 *    compacted file's range, checks that file, and finishes the deletes. The dedup view never
 *    shows those rows twice.
 * consume's discovery (modes/lake_writer.ts) skips whatever a compacted file covers, so a
 * replay after compaction writes nothing twice. A replay that starts INSIDE a small file (a
 * reset to a time or to p:offset, a log start trimmed by retention) does write those rows
 * again, in a file named after the new start; compaction heals that: exact copies of a Kafka
 * record (same partition, offset and content) become one row. Problems stay in their
 * (hour, partition) group: a file that reaches past the committed offset waits for a later run,
 * two different rows for one offset are refused for that group (a warning naming both files,
 * exit 3 at the end), and every other group is compacted.
 */
import type { Encoder, FileCoverage, Row } from "../encode/mod.ts";
import { messageOf, UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Column } from "../record/mod.ts";
import {
  compactedFileName,
  fileMetadata,
  parseCompactedFileName,
  parseFileName,
  readCoverage,
  type Store,
} from "../store/mod.ts";

/** One lake file, as its name describes it. */
export interface LakeFile {
  readonly key: string;
  /** `<table>/dt=…/hour=…` */
  readonly folder: string;
  readonly partition: number;
  readonly first: number;
  /** Known from the name for compacted files; plain files state only their first offset. */
  readonly last?: number;
  readonly compacted: boolean;
}

/** The files of one (folder, Kafka partition), the unit compaction works on. */
export interface CompactionGroup {
  readonly folder: string;
  readonly partition: number;
  readonly files: readonly LakeFile[];
}

export interface CompactionTable {
  readonly location: string;
  readonly columns: readonly Column[];
  /** Sort order inside a compacted file (the commonest filter first). */
  readonly sortBy: readonly string[];
}

export interface CompactionOptions {
  readonly topic: string;
  /** The group's committed next-offset by partition: only offsets below it are compacted. */
  readonly committed: ReadonlyMap<number, number>;
  /** Only hours that end at or before this instant (epoch ms) are compacted. */
  readonly beforeMs: number;
  readonly dryRun?: boolean;
  /** Called after each group, for a progress bar. */
  readonly onProgress?: (done: number, total: number, rows: number) => void;
}

export interface CompactionReport {
  groups: number;
  filesBefore: number;
  bytesBefore: number;
  filesAfter: number;
  bytesAfter: number;
  rows: number;
  /** Inputs of an interrupted earlier run, deleted after checking their compacted file. */
  leftoversDeleted: number;
  /** Rows read twice (same partition, offset and content) and written once. */
  duplicatesCollapsed: number;
  /** Files that reach past the committed offset (or follow one that does): a later run's. */
  leftForLater: number;
  /** Groups left untouched because their files disagree; the run ends with exit 3. */
  refused: Array<{ folder: string; partition: number; reason: string }>;
  seconds: number;
}

/** A group whose files disagree: it is left as it is and the other groups go on. */
export class GroupRefused extends Error {}

/**
 * A file that does not decode (foreign, truncated) refuses its own (hour, partition) only;
 * store failures still end the run.
 */
async function unreadableRefuses<T>(key: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new GroupRefused(`${key} cannot be read: ${messageOf(error)}`);
  }
}

const HOUR_MS = 3_600_000;

/** Parse a key of `table` into a LakeFile; undefined for anything not ours or another topic's. */
export function lakeFile(key: string, topic: string): LakeFile | undefined {
  const slash = key.lastIndexOf("/");
  const name = key.slice(slash + 1);
  const folder = key.slice(0, slash);
  const compacted = parseCompactedFileName(name);
  if (compacted) {
    if (compacted.topic !== topic) return undefined;
    return {
      key,
      folder,
      partition: compacted.partition,
      first: compacted.firstOffset,
      last: compacted.lastOffset,
      compacted: true,
    };
  }
  const plain = parseFileName(name);
  if (!plain || plain.topic !== topic) return undefined;
  return { key, folder, partition: plain.partition, first: plain.firstOffset, compacted: false };
}

/** The start of a `…/dt=YYYY-MM-DD/hour=HH` folder's hour, epoch ms; NaN if it is not one. */
export function folderHourMs(folder: string): number {
  const match = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})$/.exec(folder);
  return match ? Date.parse(`${match[1]}T${match[2]}:00:00Z`) : NaN;
}

/** Whether a folder's hour has ended by `beforeMs` (only those are compacted). */
export function finishedBy(folder: string, beforeMs: number): boolean {
  const hour = folderHourMs(folder);
  return Number.isFinite(hour) && hour + HOUR_MS <= beforeMs;
}

/** Group files by (folder, partition), in key order. */
export function groupFiles(files: readonly LakeFile[]): CompactionGroup[] {
  const groups = new Map<string, { folder: string; partition: number; files: LakeFile[] }>();
  for (const file of files) {
    if (!Number.isFinite(folderHourMs(file.folder))) continue;
    const id = `${file.folder}\n${file.partition}`;
    let group = groups.get(id);
    if (!group) {
      groups.set(id, group = { folder: file.folder, partition: file.partition, files: [] });
    }
    group.files.push(file);
  }
  return [...groups.values()];
}

/**
 * Split a group into what a compacted file already covers (leftovers of an interrupted run, to
 * delete once that file is checked) and the rest. A plain file counts as covered when its first
 * offset lies in a compacted range; its last offset is checked against the range before delete.
 */
export function supersededFiles(files: readonly LakeFile[]): {
  covering: Map<LakeFile, LakeFile[]>;
  rest: LakeFile[];
} {
  const compacted = files.filter((f) => f.compacted);
  const covering = new Map<LakeFile, LakeFile[]>();
  const rest: LakeFile[] = [];
  for (const file of files) {
    // The widest compacted file holding this one (not itself).
    const cover = compacted
      .filter((c) =>
        c !== file && c.first <= file.first && file.first <= c.last! &&
        (!file.compacted || file.last! <= c.last!)
      )
      .sort((a, b) => (b.last! - b.first) - (a.last! - a.first))[0];
    if (cover) {
      const list = covering.get(cover) ?? [];
      list.push(file);
      covering.set(cover, list);
    } else {
      rest.push(file);
    }
  }
  // A file that covers others but is itself covered hands them to its own cover.
  for (const [cover, list] of [...covering]) {
    if (!rest.includes(cover)) {
      const outer = [...covering].find(([, l]) => l.includes(cover))?.[0];
      if (outer) {
        covering.get(outer)!.push(...list);
        covering.delete(cover);
      }
    }
  }
  return { covering, rest };
}

/** Rows sorted by the table's sort columns, then Kafka offset (a total, stable order). */
export function sortRows(rows: Row[], sortBy: readonly string[]): Row[] {
  const compare = (a: unknown, b: unknown): number => {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    return (a as number | string) < (b as number | string) ? -1 : 1;
  };
  return rows.sort((a, b) => {
    for (const column of sortBy) {
      const order = compare(a[column], b[column]);
      if (order !== 0) return order;
    }
    return (a._kafka_offset as number) - (b._kafka_offset as number);
  });
}

/**
 * One row per Kafka offset. Copies of one record (a replay that started inside a file) are
 * dropped when every column is equal; two different rows under one offset are refused, since
 * keeping either could lose data (a re-created topic, a bug): an operator has to look.
 */
export function collapseCopies(
  inputs: ReadonlyArray<{ file: { key: string }; rows: readonly Row[] }>,
  columns: readonly Column[],
  partition: number,
): { rows: Row[]; duplicates: number } {
  const byOffset = new Map<number, { row: Row; key: string }>();
  let duplicates = 0;
  for (const { file, rows } of inputs) {
    for (const row of rows) {
      const offset = row._kafka_offset as number;
      const seen = byOffset.get(offset);
      if (!seen) {
        byOffset.set(offset, { row, key: file.key });
        continue;
      }
      const differs = columns.find((c) => !sameValue(seen.row[c.name], row[c.name]));
      if (differs) {
        throw new GroupRefused(
          `offset ${offset} of partition ${partition} is in ${seen.key} and ${file.key} with ` +
            `different content (column ${differs.name}); this hour and partition are left as ` +
            "they are (the dedup view shows one of them); move the wrong file away to repair",
        );
      }
      duplicates++;
    }
  }
  return { rows: [...byOffset.values()].map((v) => v.row), duplicates };
}

/** Decoded values are strings, numbers and nulls; NaN equals NaN here. */
function sameValue(a: unknown, b: unknown): boolean {
  if ((a ?? null) === (b ?? null)) return true;
  return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
}

export class Compactor {
  readonly report: CompactionReport = {
    groups: 0,
    filesBefore: 0,
    bytesBefore: 0,
    filesAfter: 0,
    bytesAfter: 0,
    rows: 0,
    leftoversDeleted: 0,
    duplicatesCollapsed: 0,
    leftForLater: 0,
    refused: [],
    seconds: 0,
  };

  constructor(
    readonly store: Store,
    readonly encoder: Encoder,
    readonly logger: Logger,
  ) {
    if (encoder.format !== "parquet") {
      // JSON lines carry their offsets in their rows, which a sort would scramble; and the
      // point of compaction (few large columnar files for Athena) is Parquet's.
      throw new UsageError(
        'compaction rewrites Parquet tables only; this lake is JSON lines (encode.format = "jsonl"), which --compact leaves as it is',
      );
    }
  }

  async compactTables(
    tables: readonly CompactionTable[],
    options: CompactionOptions,
  ): Promise<CompactionReport> {
    const started = Date.now();
    const work: Array<{ table: CompactionTable; group: CompactionGroup }> = [];
    for (const table of tables) {
      const files = (await this.store.list(table.location))
        .map((key) => lakeFile(key, options.topic))
        .filter((f): f is LakeFile => f !== undefined);
      for (const group of groupFiles(files)) work.push({ table, group });
    }
    for (const [i, { table, group }] of work.entries()) {
      try {
        await this.#compactGroup(table, group, options);
      } catch (error) {
        if (!(error instanceof GroupRefused)) throw error;
        // One bad (hour, partition) must not keep every other hour small.
        this.report.refused.push({
          folder: group.folder,
          partition: group.partition,
          reason: error.message,
        });
        this.logger.warn("compaction refused this (hour, partition); its files stay as they are", {
          folder: group.folder,
          partition: group.partition,
          reason: error.message,
        });
      }
      options.onProgress?.(i + 1, work.length, this.report.rows);
    }
    this.report.seconds = (Date.now() - started) / 1000;
    return this.report;
  }

  async #compactGroup(
    table: CompactionTable,
    group: CompactionGroup,
    options: CompactionOptions,
  ): Promise<void> {
    const committed = options.committed.get(group.partition);
    const { covering, rest } = supersededFiles(group.files);
    // Recovery first, in every hour (an earlier run may have had a later --before): finish
    // the deletes of an interrupted run.
    for (const [cover, inside] of covering) {
      const coverage = await readCoverage(this.store, this.encoder, cover.key);
      if (coverage.firstOffset !== cover.first || coverage.lastOffset !== cover.last) {
        throw new GroupRefused(
          `${cover.key} states offsets ${coverage.firstOffset}-${coverage.lastOffset} inside, ` +
            "not the range in its name; nothing of it was deleted",
        );
      }
      for (const file of inside) {
        if (!file.compacted) {
          const own = await readCoverage(this.store, this.encoder, file.key);
          if (own.lastOffset > cover.last!) {
            // Not a leftover: a replay started inside the range (a reset during compaction,
            // a stalled writer). Its rows past the range are nowhere else: rewrite both.
            this.logger.info(
              "a file starts inside a compacted file and reaches past it; both are rewritten together",
              { key: file.key, last_offset: own.lastOffset, compacted: cover.key },
            );
            if (!rest.includes(file)) rest.push(file);
            continue;
          }
        }
        if (options.dryRun) continue;
        await this.store.delete(file.key);
        this.report.leftoversDeleted++;
        this.logger.info("deleted a file an earlier compaction already covers", {
          key: file.key,
          covered_by: cover.key,
        });
      }
    }
    if (committed === undefined || !finishedBy(group.folder, options.beforeMs)) return;
    // Plain files start below the committed offset, whole compacted files lie below it.
    const eligible = rest.filter((f) => (f.compacted ? f.last! : f.first) < committed);
    const alreadyCompact = eligible.length === 1 && eligible[0].compacted;
    if (eligible.length === 0 || alreadyCompact) return;

    const read: Array<{ file: LakeFile; coverage: FileCoverage; bytes: Uint8Array }> = [];
    for (const file of eligible) {
      const bytes = await this.store.read(file.key);
      read.push({
        file,
        coverage: await unreadableRefuses(file.key, () => this.encoder.coverage(bytes)),
        bytes,
      });
    }
    // consume commits only at file boundaries, but a reset to a time or p:offset commits
    // inside a file. Such a file holds rows at or past the committed offset, which a live
    // consumer may be writing again: it waits for a later run, and so does every file from its
    // first offset on, so that no file left behind starts inside the new file's range.
    const straddling = read.filter((r) => r.coverage.lastOffset >= committed);
    const cut = Math.min(...straddling.map((r) => r.coverage.firstOffset));
    for (const { file, coverage } of straddling) {
      this.logger.info("file reaches past the group's committed offset; left for a later run", {
        key: file.key,
        first_offset: coverage.firstOffset,
        last_offset: coverage.lastOffset,
        committed,
      });
    }
    const taken = read.filter((r) => r.coverage.lastOffset < cut);
    this.report.leftForLater += read.length - taken.length;
    if (taken.length === 0 || (taken.length === 1 && taken[0].file.compacted)) return;

    const inputs: Array<{ file: LakeFile; coverage: FileCoverage; rows: Row[] }> = [];
    let bytesBefore = 0;
    for (const { file, coverage, bytes } of taken) {
      bytesBefore += bytes.byteLength;
      const rows = await unreadableRefuses(file.key, () => this.encoder.decode(bytes));
      if (rows.length !== coverage.records) {
        throw new GroupRefused(
          `${file.key} holds ${rows.length} rows but states ${coverage.records}`,
        );
      }
      inputs.push({ file, coverage, rows });
    }
    const { rows: all, duplicates } = collapseCopies(inputs, table.columns, group.partition);
    const byOffset = new Map(all.map((row) => [row._kafka_offset as number, row]));
    const first = Math.min(...inputs.map((i) => i.coverage.firstOffset));
    const last = Math.max(...inputs.map((i) => i.coverage.lastOffset));
    const coverage: FileCoverage = {
      firstOffset: first,
      lastOffset: last,
      records: all.length,
      firstTimestamp: byOffset.get(first)!._kafka_timestamp as number,
    };
    const key = `${group.folder}/${
      compactedFileName(options.topic, group.partition, first, last, this.encoder.extension)
    }`;
    this.report.groups++;
    this.report.filesBefore += inputs.length;
    this.report.bytesBefore += bytesBefore;
    this.report.rows += all.length;
    this.report.duplicatesCollapsed += duplicates;
    if (options.dryRun) {
      this.logger.info("would compact", {
        key,
        files: inputs.length,
        rows: all.length,
        duplicates,
      });
      return;
    }
    const bytes = this.encoder.encode(sortRows(all, table.sortBy), table.columns, coverage);
    const result = await this.store.createOnce(key, bytes, fileMetadata(coverage));
    if (result === "exists") {
      // An earlier run made it and died before deleting: it must hold exactly these rows.
      const existing = this.encoder.coverage(await this.store.read(key));
      if (existing.records !== all.length || existing.lastOffset !== last) {
        throw new GroupRefused(
          `${key} exists with ${existing.records} rows, not the ${all.length} its inputs hold`,
        );
      }
    }
    this.report.filesAfter++;
    this.report.bytesAfter += bytes.byteLength;
    this.logger.debug("compacted file written", { key, rows: all.length });
    // Every row of every input is in the new file (copies checked equal), so all may go.
    for (const { file } of inputs) {
      this.logger.debug("deleting a compacted input", { key: file.key });
      await this.store.delete(file.key);
    }
    this.logger.info("compacted", { key, files: inputs.length, rows: all.length, duplicates });
  }
}

/**
 * `--before`: a UTC day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH); hours ending by then are compacted.
 * Default: the start of the current UTC day, so only finished days are touched.
 */
export function parseBefore(text: string | undefined, now = Date.now()): number {
  if (text === undefined) return Math.floor(now / 86_400_000) * 86_400_000;
  const match = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}))?$/.exec(text);
  const ms = match ? Date.parse(`${match[1]}T${match[2] ?? "00"}:00:00Z`) : NaN;
  if (
    !match || !Number.isFinite(ms) ||
    new Date(ms).toISOString().slice(0, 13) !== `${match[1]}T${match[2] ?? "00"}`
  ) {
    throw new UsageError(
      `Invalid --before ${
        JSON.stringify(text)
      }: expected a UTC day YYYY-MM-DD or hour YYYY-MM-DDTHH`,
    );
  }
  return ms;
}

/** "3,412 files (41.2 MB) → 12 files (30.1 MB), 1,234,567 rows, 8.4 s" */
export function formatReport(report: CompactionReport, dryRun = false): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
  const n = (value: number) => value.toLocaleString("en");
  const lines = [
    dryRun
      ? `would compact ${n(report.groups)} (hour, partition) group(s): ${
        n(report.filesBefore)
      } files (${mb(report.bytesBefore)}), ${n(report.rows)} rows; nothing was changed`
      : `compacted ${n(report.groups)} (hour, partition) group(s): ${
        n(report.filesBefore)
      } files (${mb(report.bytesBefore)}) → ${n(report.filesAfter)} files (${
        mb(report.bytesAfter)
      }), ${n(report.rows)} rows, ${report.seconds.toFixed(1)} s`,
  ];
  if (report.duplicatesCollapsed > 0) {
    lines.push(
      `${dryRun ? "would collapse" : "collapsed"} ${
        n(report.duplicatesCollapsed)
      } duplicate row(s) (the same Kafka record written twice, e.g. after a reset to a time or p:offset)`,
    );
  }
  if (report.leftForLater > 0) {
    lines.push(
      `left ${
        n(report.leftForLater)
      } file(s) for a later run (at or past the group's committed offset, or after such a file)`,
    );
  }
  for (const refused of report.refused) {
    lines.push(`refused ${refused.folder} partition ${refused.partition}: ${refused.reason}`);
  }
  if (report.leftoversDeleted > 0) {
    lines.push(
      `finished an interrupted earlier run: deleted ${
        n(report.leftoversDeleted)
      } file(s) its compacted files already held`,
    );
  }
  return lines.join("\n") + "\n";
}
