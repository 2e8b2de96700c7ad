/**
 * consume --reset-offsets: move the lake group's committed offsets to the earliest or latest
 * offset, to the first offset at or after a Kafka time, or to offsets given per partition.
 * `--dry-run` prints the plan (committed, new, log start/end, lag before/after) and changes
 * nothing; the real run refuses while the group has live members, since a running consumer
 * would overwrite the new offsets with its next commit.
 *
 * Moving back to a flush boundary duplicates nothing: consume meets the files it already wrote
 * under the same offset-derived names and skips what they cover (and skips compacted ranges
 * wherever the target is). A time or p:offset usually lands inside a small file, which consume
 * cannot know: the rows from there on are written again until catalog --compact collapses the
 * copies, so the plan says so. Moving forward skips records for good.
 */
import { createBus, createGroupAdmin, type PartitionOffsets } from "../bus/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModeContext } from "./context.ts";

export type ResetTarget =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "time"; readonly epochMs: number; readonly text: string }
  | { readonly kind: "offsets"; readonly offsets: ReadonlyMap<number, number> };

/** One partition's line of the plan. */
export interface ResetRow {
  readonly partition: number;
  /** Undefined when the group has committed nothing for this partition. */
  readonly committed: number | undefined;
  readonly next: number;
  readonly low: number;
  readonly high: number;
}

/** Parse `earliest`, `latest`, an ISO 8601 time with zone, or `p:offset,p:offset`. */
export function parseResetTarget(text: string): ResetTarget {
  const spec = text.trim();
  if (spec === "earliest" || spec === "latest") return { kind: spec };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(spec)) {
    const offsets = new Map<number, number>();
    for (const pair of spec.split(",")) {
      const [partition, offset] = pair.split(":").map(Number);
      if (offsets.has(partition)) {
        throw new UsageError(`Invalid --reset-offsets: partition ${partition} is given twice`);
      }
      offsets.set(partition, offset);
    }
    return { kind: "offsets", offsets };
  }
  const epochMs = kafkaTime(spec);
  if (epochMs === undefined) {
    throw new UsageError(
      `Invalid --reset-offsets ${JSON.stringify(text)}: expected earliest, latest, ` +
        "p:offset[,p:offset...] or an ISO time with a zone, e.g. 2026-11-24T10:00:00Z",
    );
  }
  return { kind: "time", epochMs, text: new Date(epochMs).toISOString() };
}

/**
 * An ISO 8601 time with an explicit zone (Z or ±hh:mm), or a bare date (midnight UTC). A time
 * without a zone is refused: guessing the zone of a reprocessing boundary loses data.
 */
function kafkaTime(text: string): number | undefined {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const withZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(
    text,
  );
  const ms = dateOnly ? Date.parse(`${text}T00:00:00Z`) : withZone ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** A time flag's value (see kafkaTime), or exit 2 naming the flag. */
export function parseKafkaTime(text: string, flag: string): number {
  const ms = kafkaTime(text);
  if (ms === undefined) {
    throw new UsageError(
      `Invalid ${flag} ${JSON.stringify(text)}: expected an ISO time with a zone, ` +
        "e.g. 2026-11-24T10:00:00Z, or a date (00:00 UTC)",
    );
  }
  return ms;
}

/** `--partition 0,2` → [0, 2]; undefined when not given. */
export function parsePartitionList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(,\d+)*$/.test(text)) {
    throw new UsageError(
      `Invalid --partition ${
        JSON.stringify(text)
      }: expected a partition number or a list, e.g. 0 or 0,2`,
    );
  }
  return [...new Set(text.split(",").map(Number))].sort((a, b) => a - b);
}

/** The partitions a run applies to, checked against the topic's. */
export function selectPartitions(
  logs: readonly PartitionOffsets[],
  wanted: readonly number[] | undefined,
  topic: string,
): PartitionOffsets[] {
  const sorted = [...logs].sort((a, b) => a.partition - b.partition);
  if (wanted === undefined) return sorted;
  const known = new Set(sorted.map((o) => o.partition));
  const unknown = wanted.filter((p) => !known.has(p));
  if (unknown.length > 0) {
    throw new UsageError(
      `Invalid --partition: topic ${topic} has no partition ${unknown.join(", ")} ` +
        `(it has ${sorted.map((o) => o.partition).join(", ")})`,
    );
  }
  return sorted.filter((o) => wanted.includes(o.partition));
}

/** New offsets per partition; explicit offsets are checked against the log's start and end. */
export function planReset(
  target: ResetTarget,
  logs: readonly PartitionOffsets[],
  committed: ReadonlyMap<number, number>,
  atTime: ReadonlyMap<number, number> | undefined,
  topic: string,
): ResetRow[] {
  if (target.kind === "offsets") {
    const known = new Set(logs.map((o) => o.partition));
    for (const partition of target.offsets.keys()) {
      if (!known.has(partition)) {
        throw new UsageError(
          `Invalid --reset-offsets: topic ${topic} has no partition ${partition} ` +
            `(it has ${[...known].sort((a, b) => a - b).join(", ")})`,
        );
      }
    }
  }
  const rows: ResetRow[] = [];
  for (const log of logs) {
    let next: number;
    switch (target.kind) {
      case "earliest":
        next = log.low;
        break;
      case "latest":
        next = log.high;
        break;
      case "time":
        next = Math.min(Math.max(atTime?.get(log.partition) ?? log.high, log.low), log.high);
        break;
      case "offsets": {
        const wanted = target.offsets.get(log.partition);
        if (wanted === undefined) continue; // partitions not named keep their offsets
        if (wanted < log.low || wanted > log.high) {
          throw new UsageError(
            `Invalid --reset-offsets: offset ${wanted} of partition ${log.partition} is outside ` +
              `its log: ${logExtent(log)}`,
          );
        }
        next = wanted;
        break;
      }
    }
    rows.push({
      partition: log.partition,
      committed: committed.get(log.partition),
      next,
      low: log.low,
      high: log.high,
    });
  }
  return rows;
}

/** What a partition's log holds, in words, for error messages. */
export function logExtent(log: PartitionOffsets): string {
  return log.high === log.low
    ? `it is empty (start and end ${log.low}; only ${log.low} is valid)`
    : `offsets ${log.low} to ${log.high - 1}; ${log.high} is its end (= latest)`;
}

/** The plan as a table; lag = records between the group's position and the log end. */
export function formatResetPlan(rows: readonly ResetRow[]): string {
  const header = [
    "partition",
    "committed",
    "new",
    "log start",
    "log end",
    "lag before",
    "lag after",
  ];
  const lines = rows.map((r) => [
    String(r.partition),
    r.committed === undefined ? "none" : String(r.committed),
    String(r.next),
    String(r.low),
    String(r.high),
    // Without a commit consume starts at the log start (fromBeginning).
    String(r.high - Math.max(r.committed ?? r.low, r.low)),
    String(r.high - r.next),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [format(header), ...lines.map(format)].join("\n") + "\n";
}

/**
 * A warning (stderr, so the printed plan stays a table) when a time or offset moves a partition
 * back: such a target usually lands inside a lake file, and plain readers see the re-read rows
 * twice until the next compaction.
 */
export function warnMidFile(logger: Logger, target: ResetTarget, rows: readonly ResetRow[]): void {
  if (target.kind !== "time" && target.kind !== "offsets") return;
  const back = rows.filter((r) => r.committed !== undefined && r.next < r.committed);
  if (back.length === 0) return;
  logger.warn(
    "moving back to a time or offset that may lie inside a lake file: rows already in the lake " +
      "from there on are written again; <table>_dedup shows each offset once, plain reads see " +
      "copies until the next catalog --compact collapses them (README, Reprocessing)",
    { partitions: back.map((r) => r.partition).join(",") },
  );
}

function describeTarget(target: ResetTarget): string {
  switch (target.kind) {
    case "earliest":
    case "latest":
      return target.kind;
    case "time":
      return `the first offset at or after Kafka time ${target.text}`;
    case "offsets":
      return "the given offsets";
  }
}

export async function resetOffsets(ctx: ModeContext, spec: string): Promise<void> {
  const { config, logger, flags } = ctx;
  const topic = config.bus.topic;
  const groupId = config.bus.group_id;
  const target = parseResetTarget(spec);
  const wanted = parsePartitionList(flags.partitions);
  if (target.kind === "offsets" && wanted !== undefined) {
    throw new UsageError(
      "--partition does not go with --reset-offsets p:offset,...: the list already names the partitions",
    );
  }
  const bus = createBus(config, logger);
  const admin = createGroupAdmin(config, logger);
  try {
    const logs = selectPartitions(await bus.topicOffsets(topic), wanted, topic);
    const committed = await bus.committedOffsets(groupId, topic);
    const atTime = target.kind === "time"
      ? await admin.offsetsAtTime(topic, target.epochMs)
      : undefined;
    const rows = planReset(target, logs, committed, atTime, topic);
    const group = await admin.groupState(groupId);
    const title = `group ${groupId}, topic ${topic}: reset to ${describeTarget(target)}`;
    if (flags.dryRun) {
      const note = group.members.length > 0
        ? `; the group has ${group.members.length} live member(s), so a real run would be refused`
        : "";
      warnMidFile(logger, target, rows);
      await ctx.write(`${title} (dry run: nothing changed${note})\n${formatResetPlan(rows)}`);
      return;
    }
    if (group.members.length > 0) {
      throw new RuntimeFailure(
        `Cannot reset offsets of group ${groupId}: it has ${group.members.length} live member(s) ` +
          `(${group.members.join(", ")}; state ${group.state}). Stop every consume of this group ` +
          "first (e.g. systemctl stop cryptopipe-consume), then run again; --dry-run shows the plan meanwhile",
      );
    }
    if (rows.length === 0) {
      await ctx.write(`${title}: no partition to change\n`);
      return;
    }
    await admin.setCommittedOffsets(
      groupId,
      topic,
      new Map(rows.map((r) => [r.partition, r.next])),
    );
    // Read back what the broker now holds, so the table shows the applied state.
    const after = await bus.committedOffsets(groupId, topic);
    const wrong = rows.filter((r) => after.get(r.partition) !== r.next);
    if (wrong.length > 0) {
      throw new RuntimeFailure(
        `Offsets of group ${groupId} were not applied for partition(s) ${
          wrong.map((r) => r.partition).join(", ")
        }: the broker reports ${wrong.map((r) => after.get(r.partition) ?? "none").join(", ")}`,
      );
    }
    logger.info("offsets reset", {
      group: groupId,
      topic,
      partitions: rows.map((r) => `${r.partition}:${r.next}`).join(","),
    });
    warnMidFile(logger, target, rows);
    await ctx.write(`${title} (applied)\n${formatResetPlan(rows)}`);
  } finally {
    await admin.close().catch(() => {});
    await bus.close().catch(() => {});
  }
}
