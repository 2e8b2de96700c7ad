/**
 * Stage door: SQL over the lake. The engine sees the catalog's tables under their database
 * name (and unqualified), the same names Athena uses.
 */
import type { TableDefinition } from "../catalog/mod.ts";
import { UsageError } from "../errors.ts";
import type { LoadedConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import { AthenaEngine } from "./athena.ts";
import { DuckDbEngine } from "./duckdb.ts";

export {
  NAMED_QUERIES,
  type NamedQuery,
  namedQueryParams,
  namedQuerySql,
  PARAMS,
  sqlLiteral,
} from "./named.ts";
export { formatResult, type OutputFormat } from "./format.ts";
export { chartSeries, renderSvg } from "./chart.ts";

export interface QueryResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
  /** True when more rows existed than query.max_rows allowed. */
  readonly truncated: boolean;
}

export interface QueryEngine {
  readonly describe: string;
  /** `params` bind the `?` placeholders, in order (strings, already validated). */
  run(sql: string, params?: readonly string[]): Promise<QueryResult>;
  close(): void;
}

export function createQueryEngine(
  config: Pick<LoadedConfig, "query" | "store" | "catalog">,
  tables: readonly TableDefinition[],
  deps: { logger: Logger; signal?: AbortSignal },
): Promise<QueryEngine> {
  switch (config.query.engine) {
    case "duckdb":
      if (config.store.type !== "local") {
        throw new UsageError(
          `query.engine = "duckdb" reads a local-folder lake, but store.type = "${config.store.type}"; query an S3 lake with query.engine = "athena"`,
        );
      }
      return DuckDbEngine.open(config.store.path, tables, config.query.max_rows);
    case "athena":
      return Promise.resolve(
        new AthenaEngine(config.query, config.catalog.database, deps.logger, {
          signal: deps.signal,
        }),
      );
  }
}
