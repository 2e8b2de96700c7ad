/**
 * The dedup view next to each lake table: one row per (_kafka_topic, _kafka_partition,
 * _kafka_offset), whatever a reader meets in the lake (the overlap window of an interrupted
 * compaction, a file left by a zombie writer). The same SQL text is used by DuckDB and by the
 * Athena view in Glue (the subset both engines share), and named queries read through it.
 *
 * dt and hour are in the window's PARTITION BY: a record's dt/hour come from its own event
 * time, so copies of a record always share them, and with them in the partitioning a filter on
 * dt/hour still prunes partitions through the view.
 */
import type { ColumnType } from "../record/mod.ts";
import type { TableDefinition } from "./mod.ts";

import { DEDUP_SUFFIX } from "../config/names.ts";
export { DEDUP_SUFFIX };

export function dedupViewName(table: string): string {
  return `${table}${DEDUP_SUFFIX}`;
}

/** Trino/Presto type names, for the column list Athena keeps with a view. */
export const PRESTO_TYPES: Record<ColumnType, string> = {
  string: "varchar",
  float64: "double",
  int64: "bigint",
  int32: "integer",
};

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The view's columns: the table's, then the partition columns. */
export function dedupViewColumns(table: TableDefinition): string[] {
  return [...table.columns.map((c) => c.name), ...table.partitionKeys.map((k) => k.name)];
}

/** The SELECT that defines the view over `database.table`. */
export function dedupViewSelect(table: TableDefinition): string {
  const columns = dedupViewColumns(table).map(ident).join(", ");
  const lineage = ["_kafka_topic", "_kafka_partition", "_kafka_offset", "dt", "hour"]
    .map(ident).join(", ");
  return `SELECT ${columns} FROM (SELECT ${columns}, row_number() OVER (PARTITION BY ${lineage}) AS "_dedup_rank" FROM ${
    ident(table.database)
  }.${ident(table.name)}) AS "lake_rows" WHERE "_dedup_rank" = 1`;
}
