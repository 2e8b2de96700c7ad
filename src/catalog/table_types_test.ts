/**
 * The files and the tables agree on every column's type: each column of a Parquet file the
 * encoder writes, read back by an independent reader (DuckDB's parquet_schema), has the
 * physical and logical type that the Glue table declares for it, and the nullability of the
 * record schema. Times are INT64 epoch milliseconds in the files and bigint in the tables.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { errorRow, lakeRows } from "../encode/testing.ts";
import { createEncoder, type Row } from "../encode/mod.ts";
import { type Column, ERROR_COLUMNS, LAKE_COLUMNS } from "../record/mod.ts";
import { GLUE_TYPES } from "./glue.ts";

/** What a Hive/Glue column type must be in a Parquet file: physical type and annotation. */
const PARQUET_FOR_GLUE: Record<string, { type: string; converted: string | null }> = {
  string: { type: "BYTE_ARRAY", converted: "UTF8" },
  double: { type: "DOUBLE", converted: null },
  bigint: { type: "INT64", converted: null },
  int: { type: "INT32", converted: null },
};

async function fileSchema(bytes: Uint8Array) {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "f.parquet");
  await Deno.writeFile(path, bytes);
  const db = await DuckDBInstance.create(":memory:");
  const connection = await db.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT name, type, converted_type, repetition_type FROM parquet_schema('${path}') WHERE name <> 'root'`,
    );
    return reader.getRowObjectsJson() as Array<Record<string, string | null>>;
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

function check(columns: readonly Column[], schema: Array<Record<string, string | null>>): void {
  assert.deepEqual(schema.map((c) => c.name), columns.map((c) => c.name), "same columns, in order");
  for (const [i, column] of columns.entries()) {
    const glue = GLUE_TYPES[column.type];
    const expected = PARQUET_FOR_GLUE[glue];
    assert.deepEqual(
      [schema[i].type, schema[i].converted_type, schema[i].repetition_type],
      [expected.type, expected.converted, column.nullable ? "OPTIONAL" : "REQUIRED"],
      `${column.name}: Glue type ${glue}`,
    );
  }
}

Deno.test("table types: every Parquet column's physical and logical type matches its Glue table type (ticker)", async () => {
  check(
    LAKE_COLUMNS,
    await fileSchema(createEncoder("parquet").encode(lakeRows([1, 2, 3]), LAKE_COLUMNS)),
  );
});

Deno.test("table types: the same for the errors table", async () => {
  const rows: Row[] = [errorRow()];
  check(ERROR_COLUMNS, await fileSchema(createEncoder("parquet").encode(rows, ERROR_COLUMNS)));
});
