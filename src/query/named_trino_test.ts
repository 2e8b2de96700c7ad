/**
 * Named queries are written in the SQL subset Trino (Athena engine v3) and DuckDB share. moto
 * runs no SQL, so Trino's own parser checks every template here; DuckDB runs them in
 * duckdb_test.ts. The negative controls show the check can fail: DuckDB-only syntax is rejected.
 */
import assert from "node:assert/strict";
import { trinoParse } from "../../scripts/trino_parser.ts";
import { NAMED_QUERIES, namedQuerySql, sqlLiteral } from "./named.ts";

Deno.test("named queries parse as Trino SQL, with one ? per placeholder", async () => {
  const names = Object.keys(NAMED_QUERIES);
  assert.ok(names.length > 0);
  const results = await trinoParse(names.map((name) => namedQuerySql(name, "ticks")!));
  names.forEach((name, i) => {
    const expected = { ok: true, parameters: NAMED_QUERIES[name].placeholders.length };
    assert.deepEqual(results[i], expected, name);
  });
});

Deno.test("Trino's parser rejects DuckDB-only syntax", async () => {
  const duckdbOnly = [
    "SELECT symbol, price FROM ticks QUALIFY row_number() OVER (PARTITION BY symbol) = 1",
    "SELECT * EXCLUDE (price) FROM ticks",
  ];
  const results = await trinoParse(duckdbOnly);
  results.forEach((result, i) => {
    assert.equal(result.ok, false, `accepted: ${duckdbOnly[i]}`);
    assert.match(!result.ok ? result.error : "", /^line 1:\d+: mismatched input/);
  });
});

Deno.test("sqlLiteral keeps a value inside its literal for Trino; backslash escaping does not", async () => {
  // Trino ignores backslashes, so `\'` ends the literal and the rest is SQL: the `?` counts.
  const value = "x' AND symbol = ? --";
  const [quoted, backslashed] = await trinoParse([
    `SELECT * FROM ticks WHERE symbol = ${sqlLiteral(value)}`,
    `SELECT * FROM ticks WHERE symbol = '${value.replaceAll("'", "\\'")}'`,
  ]);
  assert.deepEqual(quoted, { ok: true, parameters: 0 });
  assert.deepEqual(backslashed, { ok: true, parameters: 1 });
});
