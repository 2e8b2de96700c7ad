/** query: SQL (or a named query) over the catalogued lake, printed as a table, csv or json. */
import { createCatalog } from "../catalog/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import {
  createQueryEngine,
  formatResult,
  NAMED_QUERIES,
  namedQueryParams,
  namedQuerySql,
  type QueryResult,
} from "../query/mod.ts";
import type { ModeContext } from "./context.ts";

export async function query(ctx: ModeContext): Promise<QueryResult> {
  const { config, flags, logger } = ctx;
  if ((flags.sql === undefined) === (flags.named === undefined)) {
    throw new UsageError(
      `Give exactly one of --sql "..." or --named NAME (named queries: ${
        Object.keys(NAMED_QUERIES).join(", ")
      })`,
    );
  }
  let sql = flags.sql;
  let params: string[] = [];
  if (flags.params?.length && flags.named === undefined) {
    throw new UsageError("--param goes with --named; --sql takes no parameters");
  }
  if (flags.named !== undefined) {
    sql = namedQuerySql(flags.named, config.store.table);
    if (sql === undefined) {
      throw new UsageError(
        `Unknown named query ${JSON.stringify(flags.named)} (--named); known: ${
          Object.keys(NAMED_QUERIES).join(", ")
        }`,
      );
    }
    params = namedQueryParams(flags.named, flags.params ?? []);
  }
  // DuckDB builds its views from the local catalog; Athena reads Glue by itself.
  const tables = config.query.engine === "duckdb" ? await createCatalog(config).tables() : [];
  if (config.query.engine === "duckdb" && tables.length === 0) {
    logger.warn(`the catalog is empty: run --mode catalog first (lake ${config.store.path})`);
  }
  const engine = await createQueryEngine(config, tables, { logger, signal: ctx.signal });
  let result: QueryResult;
  try {
    result = await engine.run(sql!, params);
  } finally {
    engine.close();
  }
  const text = formatResult(result, flags.format ?? config.query.format);
  if (flags.output) {
    try {
      await Deno.writeTextFile(flags.output, text);
    } catch (error) {
      throw new RuntimeFailure(
        `Cannot write ${flags.output} (--output): ${(error as Error).message}`,
        { cause: error },
      );
    }
    logger.info("query result written", { output: flags.output, rows: result.rows.length });
  } else {
    await ctx.write(text);
  }
  if (result.truncated) {
    logger.warn(`output truncated to query.max_rows = ${config.query.max_rows} rows`);
  }
  return result;
}
