/**
 * The lake layout, in one place:
 *   <table>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first offset, 20 digits>.<ext>
 * Hive-style partitions by event time in UTC; names derived from Kafka coordinates, so a
 * replay of the same records produces the same name (the basis of exactly-once).
 * Table and topic pass the allowlists of config/names.ts again here, so no caller can make a
 * key that climbs out of the lake.
 */
import { nameProblem } from "../config/names.ts";
import { UsageError } from "../errors.ts";

export interface TimePartition {
  readonly dt: string;
  readonly hour: string;
}

const HOUR_MS = 3_600_000;
/** Hot path (once per record): the partition of an hour is computed once, then looked up. */
const partitionOfHour = new Map<number, TimePartition>();

/** The dt of dead letters whose Kafka time is nonsense (lake_writer.ts): epoch 0. */
export const UNDATED_DT = "1970-01-01";

export function timePartition(epochMs: number): TimePartition {
  const hour = Math.floor(epochMs / HOUR_MS);
  let part = partitionOfHour.get(hour);
  if (!part) {
    const iso = new Date(hour * HOUR_MS).toISOString();
    part = { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
    if (partitionOfHour.size >= 4096) partitionOfHour.clear();
    partitionOfHour.set(hour, part);
  }
  return part;
}

export function partitionPrefix(table: string, part: TimePartition): string {
  return `${table}/dt=${part.dt}/hour=${part.hour}`;
}

export function fileName(
  topic: string,
  partition: number,
  firstOffset: number,
  extension: string,
): string {
  return `${topic}+${partition}+${String(firstOffset).padStart(20, "0")}.${extension}`;
}

export function objectKey(
  table: string,
  part: TimePartition,
  topic: string,
  partition: number,
  firstOffset: number,
  extension: string,
): string {
  const problem = nameProblem("table", table) ?? nameProblem("topic", topic);
  if (problem) throw new UsageError(`Cannot name a lake file: ${problem}`);
  return `${partitionPrefix(table, part)}/${fileName(topic, partition, firstOffset, extension)}`;
}

/** Longest key part: the usual file-name limit (255 bytes; our names are ASCII). */
const MAX_KEY_PART = 255;
const MAX_KEY = 1024;

/**
 * Lake keys are plain relative paths: nothing may climb out of the lake or its prefix, and no
 * part may hold a control character (NUL included) or a backslash, or be overlong.
 */
export function isPlainKey(key: string): boolean {
  // deno-lint-ignore no-control-regex
  if (key.length > MAX_KEY || /[\x00-\x1f\x7f\\]/.test(key)) return false;
  return !key.split("/").some((part) =>
    part === ".." || part === "" || part === "." || part.length > MAX_KEY_PART
  );
}

const FILE_PATTERN =
  /^(?<topic>[A-Za-z0-9._-]+)\+(?<partition>\d+)\+(?<first>\d{20})\.(?<ext>[a-z]+(\.gz)?)$/;

/** Parse a lake file name back into its Kafka coordinates; undefined if it is not ours. */
export function parseFileName(name: string):
  | { topic: string; partition: number; firstOffset: number; extension: string }
  | undefined {
  const match = FILE_PATTERN.exec(name);
  if (!match?.groups) return undefined;
  return {
    topic: match.groups.topic,
    partition: Number(match.groups.partition),
    firstOffset: Number(match.groups.first),
    extension: match.groups.ext,
  };
}

/**
 * A compacted file: every row of one (hour, Kafka partition) from `first` to `last`, sorted by
 * symbol and time. Its name states the range, so consume's discovery can skip all of it.
 */
export function compactedFileName(
  topic: string,
  partition: number,
  firstOffset: number,
  lastOffset: number,
  extension: string,
): string {
  return `${topic}+${partition}+${String(firstOffset).padStart(20, "0")}-${
    String(lastOffset).padStart(20, "0")
  }.${extension}`;
}

const COMPACTED_PATTERN =
  /^(?<topic>[A-Za-z0-9._-]+)\+(?<partition>\d+)\+(?<first>\d{20})-(?<last>\d{20})\.(?<ext>[a-z]+(\.gz)?)$/;

/** Parse a compacted file's name; undefined for a plain (per-flush) file or a foreign one. */
export function parseCompactedFileName(name: string):
  | { topic: string; partition: number; firstOffset: number; lastOffset: number; extension: string }
  | undefined {
  const match = COMPACTED_PATTERN.exec(name);
  if (!match?.groups) return undefined;
  const firstOffset = Number(match.groups.first);
  const lastOffset = Number(match.groups.last);
  if (lastOffset < firstOffset) return undefined;
  return {
    topic: match.groups.topic,
    partition: Number(match.groups.partition),
    firstOffset,
    lastOffset,
    extension: match.groups.ext,
  };
}
