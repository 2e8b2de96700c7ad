/**
 * DuckDB over the local lake, the only file that imports DuckDB. Each catalog table becomes a
 * view with the catalog's column types, so an empty table still has its full schema and
 * queries see the same types Glue/Athena would.
 */
import { join, resolve } from "node:path";
import type { DuckDBInstance } from "@duckdb/node-api";
import { dedupViewName, dedupViewSelect, type TableDefinition } from "../catalog/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import type { ColumnType } from "../record/mod.ts";
import type { QueryEngine, QueryResult } from "./mod.ts";

const DUCKDB_TYPES: Record<ColumnType, string> = {
  string: "VARCHAR",
  float64: "DOUBLE",
  int64: "BIGINT",
  int32: "INTEGER",
};

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteString = (text: string) => `'${text.replaceAll("'", "''")}'`;

async function hasFiles(dir: string, extension: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && (await hasFiles(join(dir, entry.name), extension))) return true;
      if (entry.isFile && entry.name.includes(`.${extension}`)) return true;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  return false;
}

/** SQL for one table's view: typed columns over the files, or an empty typed relation. */
export async function viewSql(lakeRoot: string, table: TableDefinition): Promise<string> {
  const name = `${quoteIdent(table.database)}.${quoteIdent(table.name)}`;
  const typed = table.columns.map((c) =>
    `CAST(${quoteIdent(c.name)} AS ${DUCKDB_TYPES[c.type]}) AS ${quoteIdent(c.name)}`
  );
  const partitions = ["CAST(dt AS VARCHAR) AS dt", "CAST(hour AS VARCHAR) AS hour"];
  const dir = resolve(lakeRoot, table.location);
  if (!(await hasFiles(dir, table.format))) {
    const nulls = [
      ...table.columns.map((c) => `CAST(NULL AS ${DUCKDB_TYPES[c.type]}) AS ${quoteIdent(c.name)}`),
      "CAST(NULL AS VARCHAR) AS dt",
      "CAST(NULL AS VARCHAR) AS hour",
    ];
    return `CREATE OR REPLACE VIEW ${name} AS SELECT ${nulls.join(", ")} WHERE false`;
  }
  // `.jsonl*` also takes `.jsonl.gz` (DuckDB decompresses by extension, file by file).
  const glob = quoteString(`${dir}/dt=*/hour=*/*.${table.format}*`);
  const hive = "hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': VARCHAR}";
  const source = table.format === "parquet"
    ? `read_parquet(${glob}, ${hive}, union_by_name = true)`
    : `read_json(${glob}, format = 'newline_delimited', ${hive}, columns = {${
      table.columns.map((c) => `${quoteString(c.name)}: ${quoteString(DUCKDB_TYPES[c.type])}`).join(
        ", ",
      )
    }})`;
  return `CREATE OR REPLACE VIEW ${name} AS SELECT ${
    [...typed, ...partitions].join(", ")
  } FROM ${source}`;
}

function plain(value: unknown): unknown {
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  return value;
}

/** DuckDB's error kinds that mean "the query is wrong", not "the engine or the disk failed". */
const USER_ERROR =
  /^(Parser|Binder|Catalog|Conversion|Invalid Input|Not implemented|Syntax|Constraint|Permission) Error/;

export class DuckDbEngine implements QueryEngine {
  readonly describe = "duckdb (local lake)";

  private constructor(
    readonly instance: DuckDBInstance,
    readonly connection: Awaited<ReturnType<DuckDBInstance["connect"]>>,
    readonly maxRows: number,
  ) {}

  static async open(
    lakeRoot: string,
    tables: readonly TableDefinition[],
    maxRows: number,
  ): Promise<DuckDbEngine> {
    // Loaded on first use: the native addon stays out of the bundle (README "Build and ship").
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    const engine = new DuckDbEngine(instance, connection, maxRows);
    try {
      const databases = [...new Set(tables.map((t) => t.database))];
      for (const db of databases) {
        await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(db)}`);
      }
      for (const table of tables) {
        await connection.run(await viewSql(lakeRoot, table));
        // The dedup view next to it, as in Glue (catalog/dedup_view.ts).
        await connection.run(
          `CREATE OR REPLACE VIEW ${quoteIdent(table.database)}.${
            quoteIdent(dedupViewName(table.name))
          } AS ${dedupViewSelect(table)}`,
        );
      }
      // Unqualified names resolve like Athena's default database.
      if (databases.length > 0) {
        await connection.run(`SET search_path = ${quoteString([...databases, "main"].join(","))}`);
      }
      // Free SQL (--sql, --file) may read the lake and nothing else: no other files, no
      // COPY ... TO, no ATTACH, no extension downloads; and no SET can undo that.
      await connection.run(`SET allowed_directories = [${quoteString(`${resolve(lakeRoot)}/`)}]`);
      await connection.run("SET enable_external_access = false");
      await connection.run("SET lock_configuration = true");
    } catch (error) {
      engine.close();
      throw new RuntimeFailure(
        `Cannot open the local lake ${lakeRoot} in DuckDB: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return engine;
  }

  async run(sql: string, params: readonly string[] = []): Promise<QueryResult> {
    let reader;
    try {
      // Bound values, never spliced into the text.
      reader = await this.connection.runAndReadUntil(
        sql,
        this.maxRows + 1,
        params.length > 0 ? [...params] : undefined,
      );
    } catch (error) {
      // DuckDB's messages are already one clear paragraph; keep its first line. A mistake in
      // the query is the user's (exit 2, like Athena's user errors); anything else is exit 3.
      const line = (error as Error).message.split("\n")[0];
      const Failure = USER_ERROR.test(line) ? UsageError : RuntimeFailure;
      throw new Failure(`Cannot run the query: ${line}`, { cause: error });
    }
    const rows = reader.getRowsJS().map((row) => row.map(plain));
    return {
      columns: reader.columnNames(),
      rows: rows.slice(0, this.maxRows),
      truncated: rows.length > this.maxRows,
    };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
