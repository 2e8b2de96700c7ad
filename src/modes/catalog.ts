/**
 * catalog: register the lake's tables (idempotent; safe to run on a timer). `--dry-run` prints
 * what would change and changes nothing; it fails like the real run would on a breaking change.
 */
import {
  createCatalog,
  formatPlans,
  lakePartitions,
  lakeTables,
  type RegisterResult,
  type TablePlan,
} from "../catalog/mod.ts";
import { RuntimeFailure } from "../errors.ts";
import { createStore } from "../store/mod.ts";
import type { ModeContext } from "./context.ts";
import { expire } from "./retention.ts";

export async function catalog(ctx: ModeContext): Promise<Record<string, RegisterResult>> {
  const { config, logger } = ctx;
  if (ctx.flags.expire) {
    // Retention is a run of its own: it deletes, registering is another run.
    await expire(ctx);
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
