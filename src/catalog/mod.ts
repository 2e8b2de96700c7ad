/**
 * Stage door: the catalog. It registers the lake's tables (columns from the record schema,
 * dt/hour partition keys, location and format) so query engines can find them.
 */
import type { LoadedConfig } from "../config/mod.ts";
import { type Column, ERROR_COLUMNS, LAKE_COLUMNS, TICKER_SCHEMA_ID } from "../record/mod.ts";
import { GlueCatalog } from "./glue.ts";
import { LocalCatalog } from "./local.ts";
import { UsageError } from "../errors.ts";
import type { Store, TimePartition } from "../store/mod.ts";
import type { TablePlan } from "./plan.ts";

export { formatPlans, problemSummary, type TablePlan } from "./plan.ts";
export { dedupViewName, dedupViewSelect } from "./dedup_view.ts";

export interface TableDefinition {
  readonly database: string;
  readonly name: string;
  readonly description: string;
  readonly schemaId: string;
  readonly format: "parquet" | "jsonl";
  /** Folder of the table relative to the lake root. */
  readonly location: string;
  readonly columns: readonly Column[];
  readonly partitionKeys: readonly { readonly name: "dt" | "hour"; readonly doc: string }[];
}

export type RegisterResult = "created" | "updated" | "unchanged";

/** projection: engines compute partitions (Athena). register: each one is added to Glue. */
export type PartitionMode = "projection" | "register";

export interface PartitionResult {
  readonly created: number;
  /** Already registered before this run (counted as success). */
  readonly existing: number;
}

export interface Catalog {
  readonly describe: string;
  /** What register() would do, changing nothing (`--dry-run`). */
  plan(table: TableDefinition): Promise<TablePlan>;
  /** Create or safely update the table; a breaking change is refused (exit 3). */
  register(table: TableDefinition): Promise<RegisterResult>;
  /** Only catalogs that keep partitions (Glue with catalog.partitions = "register"). */
  registerPartitions?(
    table: TableDefinition,
    partitions: readonly TimePartition[],
  ): Promise<PartitionResult>;
  tables(): Promise<TableDefinition[]>;
}

export const PARTITION_KEYS = [
  { name: "dt", doc: "event date, UTC, YYYY-MM-DD" },
  { name: "hour", doc: "event hour, UTC, 00-23" },
] as const;

/** The tables cryptopipe's consumer writes, derived from the config and the record schema. */
export function lakeTables(
  config: Pick<LoadedConfig, "catalog" | "store" | "encode">,
): TableDefinition[] {
  const common = {
    database: config.catalog.database,
    format: config.encode.format,
    partitionKeys: PARTITION_KEYS,
  };
  return [
    {
      ...common,
      name: config.store.table,
      description: "Normalized ticker records with Kafka lineage",
      schemaId: TICKER_SCHEMA_ID,
      location: config.store.table,
      columns: LAKE_COLUMNS,
    },
    {
      ...common,
      name: config.store.errors_table,
      description: "Records consume could not accept, kept with their Kafka coordinates",
      schemaId: "cryptopipe.error.v1",
      location: config.store.errors_table,
      columns: ERROR_COLUMNS,
    },
  ];
}

/** The dt/hour partitions a table has in the lake, found by listing folders (not files). */
export async function lakePartitions(
  store: Store,
  table: TableDefinition,
): Promise<TimePartition[]> {
  const partitions: TimePartition[] = [];
  for (const day of await store.folders(table.location)) {
    const dt = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(day)?.[1];
    if (!dt) continue;
    for (const hourFolder of await store.folders(`${table.location}/${day}`)) {
      const hour = /^hour=([01]\d|2[0-3])$/.exec(hourFolder)?.[1];
      if (hour) partitions.push({ dt, hour });
    }
  }
  return partitions;
}

export function createCatalog(config: Pick<LoadedConfig, "catalog" | "store">): Catalog {
  switch (config.catalog.type) {
    case "glue":
      if (config.store.type !== "s3") {
        throw new UsageError(
          `catalog.type = "glue" registers an S3 lake, but store.type = "${config.store.type}"; a local-folder lake is catalogued with catalog.type = "local"`,
        );
      }
      return new GlueCatalog(config.catalog, config.store);
    case "local":
      if (config.store.type !== "local") {
        throw new UsageError(
          `catalog.type = "local" registers a local-folder lake, but store.type = "${config.store.type}"; an S3 lake is catalogued in AWS Glue`,
        );
      }
      return new LocalCatalog(config.store.path, config.catalog.database);
  }
}
