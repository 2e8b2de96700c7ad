/**
 * Stage door: SQL over the lake. The engine sees the catalog's tables under their database
 * name (and unqualified), the same names Athena uses.
 */
import type { TableDefinition } from "../catalog/mod.ts";
import { UsageError } from "../errors.ts";
import type { LoadedConfig } from "../config/mod.ts";
import { DuckDbEngine } from "./duckdb.ts";

export { NAMED_QUERIES, type NamedQuery, namedQuerySql } from "./named.ts";
export { formatResult, type OutputFormat } from "./format.ts";

export interface QueryResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
  /** True when more rows existed than query.max_rows allowed. */
  readonly truncated: boolean;
}

export interface QueryEngine {
  readonly describe: string;
  run(sql: string): Promise<QueryResult>;
  close(): void;
}

export function createQueryEngine(
  config: Pick<LoadedConfig, "query" | "store">,
  tables: readonly TableDefinition[],
): Promise<QueryEngine> {
  switch (config.query.engine) {
    case "duckdb":
      if (config.store.type !== "local") {
        throw new UsageError(
          `query.engine = "duckdb" reads a local-folder lake, but store.type = "${config.store.type}"; querying an S3 lake needs Athena, which is not built yet`,
        );
      }
      return DuckDbEngine.open(config.store.path, tables, config.query.max_rows);
  }
}
