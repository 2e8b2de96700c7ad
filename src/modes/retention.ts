/**
 * catalog --expire: retention for a local lake. Deletes the dt= partitions of the records and
 * errors tables whose day is older than store.retention_days, judged by the partition's date
 * (the records' event time; Kafka time for the errors table), never by file times, so a
 * late backfill of old data expires with its day. `--dry-run` lists what would go.
 *
 * On S3 the bucket's lifecycle rule does this (deploy/s3/lifecycle.json, by object age), so
 * --expire refuses there instead of listing and deleting objects one by one.
 */
import { lakeTables } from "../catalog/mod.ts";
import { UsageError } from "../errors.ts";
import { createStore, type Store, UNDATED_DT } from "../store/mod.ts";
import type { ModeContext } from "./context.ts";

const DAY_MS = 86_400_000;

export interface ExpiredPartition {
  readonly table: string;
  readonly dt: string;
  readonly files: number;
}

/** The first day kept: partitions with dt before it are expired (today counts as day 0). */
export function retentionCutoff(nowMs: number, retentionDays: number): string {
  return new Date(nowMs - retentionDays * DAY_MS).toISOString().slice(0, 10);
}

/** Every dt= partition of the table folders older than the cutoff, oldest first. */
export async function expiredPartitions(
  store: Store,
  tables: readonly string[],
  cutoff: string,
): Promise<ExpiredPartition[]> {
  const expired: ExpiredPartition[] = [];
  for (const table of tables) {
    for (const folder of await store.folders(table)) {
      const dt = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(folder)?.[1];
      // 1970-01-01 holds dead letters without a usable time: kept for someone to look at.
      if (!dt || dt >= cutoff || dt === UNDATED_DT) continue;
      const files = (await store.list(`${table}/${folder}`)).length;
      expired.push({ table, dt, files });
    }
  }
  return expired;
}

export async function expire(
  ctx: ModeContext,
  store: Store = createStore(ctx.config),
  nowMs = Date.now(),
): Promise<ExpiredPartition[]> {
  const { config, logger, flags } = ctx;
  const days = config.store.retention_days;
  if (days === undefined) {
    throw new UsageError(
      "catalog --expire needs store.retention_days (days of dt= partitions to keep) in the config",
    );
  }
  if (config.store.type === "s3" || !store.removeFolder) {
    throw new UsageError(
      `catalog --expire deletes local lake partitions only; on S3 (store.type = "s3") apply the ` +
        "lifecycle rule deploy/s3/lifecycle.json with its Days set to store.retention_days",
    );
  }
  const cutoff = retentionCutoff(nowMs, days);
  const tables = lakeTables(config).map((t) => t.location);
  const expired = await expiredPartitions(store, tables, cutoff);
  const lines = expired.map((p) => `  ${p.table}/dt=${p.dt}  (${p.files} file(s))\n`).join("");
  const head = `retention ${days} day(s) on ${store.describe}: partitions before dt=${cutoff}`;
  if (flags.dryRun) {
    await ctx.write(
      `${head} that would be deleted (dry run: nothing changed): ${expired.length}\n${lines}`,
    );
    return expired;
  }
  for (const partition of expired) {
    await store.removeFolder(`${partition.table}/dt=${partition.dt}`);
    logger.info("partition expired", {
      table: partition.table,
      dt: partition.dt,
      files: partition.files,
    });
  }
  await ctx.write(`${head} deleted: ${expired.length}\n${lines}`);
  return expired;
}
