/**
 * catalog: register the lake's tables (idempotent; safe to run on a timer). `--dry-run` prints
 * what would change and changes nothing; it fails like the real run would on a breaking change.
 */
import {
  createCatalog,
  dedupViewName,
  formatPlans,
  lakePartitions,
  lakeTables,
  type RegisterResult,
  type TablePlan,
} from "../catalog/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import { createStore } from "../store/mod.ts";
import type { ModeContext } from "./context.ts";
import { expire } from "./retention.ts";
import { createBus } from "../bus/mod.ts";
import { createEncoder } from "../encode/mod.ts";
import { type CompactionReport, Compactor, formatReport, parseBefore } from "../catalog/compact.ts";
import { TtyProgress } from "./progress_bar.ts";
import { withMaintenanceLock } from "./maintenance_lock.ts";

export async function catalog(ctx: ModeContext): Promise<Record<string, RegisterResult>> {
  const { config, logger } = ctx;
  if (ctx.flags.expire && ctx.flags.compact) {
    throw new UsageError("--expire and --compact are separate runs: give one of them");
  }
  if (ctx.flags.before !== undefined && !ctx.flags.compact) {
    throw new UsageError("--before applies to --mode catalog --compact only");
  }
  if (ctx.flags.expire) {
    // Retention is a run of its own: it deletes, registering is another run.
    await withMaintenanceLock(config, "catalog --expire", () => expire(ctx));
    return {};
  }
  if (ctx.flags.compact) {
    await withMaintenanceLock(config, "catalog --compact", () => compact(ctx));
    return {};
  }
  const target = createCatalog(config);
  const tables = lakeTables(config);
  // Partitions are found before anything changes, so a dry run reports the same numbers.
  const registers = config.catalog.type === "glue" && config.catalog.partitions === "register";
  const store = registers ? createStore(config) : undefined;
  const partitions = store
    ? await Promise.all(tables.map((table) => lakePartitions(store, table)))
    : undefined;
  if (ctx.flags.dryRun) {
    const plans: TablePlan[] = [];
    for (const table of tables) plans.push(await target.plan(table));
    let report = formatPlans(plans);
    tables.forEach((table, i) => {
      if (!partitions) return;
      report += `\n${table.database}.${table.name}: ${partitions[i].length} dt/hour ` +
        `partition(s) in the lake would be registered (those already in Glue are kept)\n`;
    });
    for (const table of tables) {
      report += `\n${table.database}.${dedupViewName(table.name)}: dedup view over ${table.name} ` +
        `(one row per Kafka record), ${
          config.catalog.type === "glue" ? "created or replaced in Glue" : "built by DuckDB"
        }\n`;
    }
    await ctx.write(report);
    const refused = plans.filter((p) => p.action === "refuse");
    if (refused.length > 0) {
      throw new RuntimeFailure(
        `--dry-run: ${
          refused.map((p) => p.table).join(", ")
        } would be refused (the problems are listed above); only new nullable columns at the end can be applied`,
      );
    }
    return {};
  }
  const results: Record<string, RegisterResult> = {};
  for (const table of tables) {
    results[table.name] = await target.register(table);
    logger.info(`table ${table.database}.${table.name} ${results[table.name]}`, {
      catalog: target.describe,
    });
  }
  for (const [i, table] of tables.entries()) {
    if (!partitions || !target.registerPartitions) break;
    const { created, existing } = await target.registerPartitions(table, partitions[i]);
    logger.info(`partitions of ${table.database}.${table.name} registered`, {
      found: partitions[i].length,
      created,
      existing,
    });
  }
  return results;
}

/**
 * --compact: rewrite finished hours into one sorted Parquet file per (hour, Kafka partition).
 * Reads the consumer group's committed offsets from Kafka: only rows below them are touched.
 */
export async function compact(ctx: ModeContext): Promise<CompactionReport> {
  const { config, logger } = ctx;
  const beforeMs = parseBefore(ctx.flags.before);
  const compactor = new Compactor(
    createStore(config),
    createEncoder(config.encode.format, { rowGroupSize: config.encode.row_group_size }),
    logger,
  );
  const bus = createBus(config, logger);
  let committed;
  try {
    committed = await bus.committedOffsets(config.bus.group_id, config.bus.topic);
  } finally {
    await bus.close();
  }
  if (committed.size === 0) {
    // Only rows below the group's commit are compacted: with none, nothing is.
    logger.warn("the consumer group has committed nothing on the topic: nothing to compact", {
      group: config.bus.group_id,
      topic: config.bus.topic,
    });
  }
  logger.info("compacting", {
    lake: compactor.store.describe,
    before: new Date(beforeMs).toISOString(),
    group: config.bus.group_id,
    committed: JSON.stringify(Object.fromEntries(committed)),
  });
  const tables = lakeTables(config).map((table) => ({
    location: table.location,
    columns: table.columns,
    sortBy: table.columns.some((c) => c.name === "symbol") ? ["symbol", "event_time"] : [],
  }));
  let state = { done: 0, total: 0, records: 0 };
  const encoder = new TextEncoder();
  const bar = Deno.stderr.isTerminal()
    ? new TtyProgress((text) => Deno.stderr.writeSync(encoder.encode(text)), () => state)
    : undefined;
  let report;
  try {
    report = await compactor.compactTables(tables, {
      topic: config.bus.topic,
      committed,
      beforeMs,
      dryRun: ctx.flags.dryRun,
      onProgress: (done, total, records) => (state = { done, total, records }),
    });
  } finally {
    bar?.stop();
  }
  logger.info("compaction finished", {
    groups: report.groups,
    files_before: report.filesBefore,
    bytes_before: report.bytesBefore,
    files_after: report.filesAfter,
    bytes_after: report.bytesAfter,
    rows: report.rows,
    leftovers_deleted: report.leftoversDeleted,
    duplicates_collapsed: report.duplicatesCollapsed,
    left_for_later: report.leftForLater,
    refused: report.refused.length,
    seconds: report.seconds.toFixed(2),
  });
  await ctx.write(formatReport(report, ctx.flags.dryRun));
  if (report.refused.length > 0) {
    // Every other group was compacted; exit 3 so that an operator (or the timer) notices.
    throw new RuntimeFailure(
      `compaction refused ${report.refused.length} (hour, partition) group(s), left as they were: ` +
        report.refused.map((r) => `${r.folder} partition ${r.partition}`).join(", "),
    );
  }
  return report;
}
