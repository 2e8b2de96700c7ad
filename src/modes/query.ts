/**
 * query: SQL (or a named query) over the catalogued lake, printed as a table, csv, json or a
 * terminal chart, and optionally drawn as a price-over-time SVG/HTML chart (--chart FILE).
 */
import { createCatalog } from "../catalog/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import {
  chartSeries,
  createQueryEngine,
  formatResult,
  NAMED_QUERIES,
  namedQueryParams,
  namedQuerySql,
  type QueryResult,
  renderSvg,
} from "../query/mod.ts";
import { ARTIFACT } from "../version.ts";
import type { ModeContext } from "./context.ts";

export async function query(ctx: ModeContext): Promise<QueryResult> {
  const { config, flags, logger } = ctx;
  const given = [flags.sql, flags.sqlFile, flags.named].filter((f) => f !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      `Give exactly one of --sql "...", --file QUERY.sql or --named NAME (named queries: ${
        Object.keys(NAMED_QUERIES).join(", ")
      })`,
    );
  }
  let sql = flags.sql ?? (flags.sqlFile !== undefined ? await readSql(flags.sqlFile) : undefined);
  // One statement; a trailing `;` (usual in .sql files) is dropped, as Trino's parser refuses it.
  sql = sql?.trim().replace(/;+$/, "").trimEnd();
  let params: string[] = [];
  if (flags.params?.length && flags.named === undefined) {
    throw new UsageError("--param goes with --named; --sql and --file take no parameters");
  }
  if (flags.chart !== undefined && !/\.(svg|html?)$/i.test(flags.chart)) {
    throw new UsageError(
      `Invalid --chart ${JSON.stringify(flags.chart)}: the file name must end in .svg or .html`,
    );
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
  if (config.query.engine === "duckdb" && ARTIFACT !== undefined) {
    // DuckDB is a native addon that neither shipped artifact can carry (README "Build and ship").
    throw new UsageError(
      `Local query (query.engine = "duckdb") is not available in the ${
        ARTIFACT === "compile" ? "compiled binary" : "bundle"
      }: DuckDB is a native addon; query the S3 lake with query.engine = "athena", or run from a checkout with \`deno task cryptopipe --mode query\``,
    );
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
    await writeFile(flags.output, text, "--output");
    logger.info("query result written", { output: flags.output, rows: result.rows.length });
  } else {
    await ctx.write(text);
  }
  if (flags.chart !== undefined) {
    const title = flags.named !== undefined ? `cryptopipe: ${flags.named}` : "cryptopipe query";
    const svg = renderSvg(chartSeries(result), { title });
    await writeFile(
      flags.chart,
      /\.html?$/i.test(flags.chart) ? chartPage(title, svg) : svg,
      "--chart",
    );
    logger.info("chart written", { chart: flags.chart });
  }
  if (result.truncated) {
    logger.warn(`output truncated to query.max_rows = ${config.query.max_rows} rows`);
  }
  return result;
}

async function readSql(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read --file ${path}: ${(error as Error).message}`);
  }
}

async function writeFile(path: string, text: string, flag: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    throw new RuntimeFailure(`Cannot write ${path} (${flag}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A standalone page around the SVG, for people who open charts in a browser. */
function chartPage(title: string, svg: string): string {
  const escaped = title.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escaped}</title></head>
<body style="margin:2em;font-family:sans-serif">
${svg}
</body></html>
`;
}
