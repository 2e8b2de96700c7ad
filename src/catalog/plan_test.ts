import assert from "node:assert/strict";
import { formatPlans, planTable, type TableShape } from "./plan.ts";

const table: TableShape = {
  columns: [
    { name: "symbol", type: "string", comment: "instrument", nullable: false },
    { name: "price", type: "double", comment: "last price", nullable: false },
  ],
  partitionKeys: ["dt string", "hour string"],
  format: "parquet",
  location: "s3://lake/ticker/",
  description: "ticks",
  properties: { classification: "parquet", "projection.enabled": "true" },
};

Deno.test("catalog plan: absent → create with every column; equal → unchanged", () => {
  const created = planTable("db.ticker", undefined, table, "Glue");
  assert.equal(created.action, "create");
  assert.deepEqual(created.changes, [
    "+ table db.ticker (parquet) at s3://lake/ticker/",
    "+ column symbol string",
    "+ column price double",
    "+ partition key dt string",
    "+ partition key hour string",
  ]);
  const same = planTable("db.ticker", table, { ...table }, "Glue");
  assert.deepEqual([same.action, same.changes, same.problems], ["unchanged", [], []]);
});

Deno.test("catalog plan: a new nullable column at the end, comments and properties are safe updates", () => {
  const wanted: TableShape = {
    ...table,
    columns: [
      table.columns[0],
      { ...table.columns[1], comment: "last trade price" },
      { name: "funding_rate", type: "double", nullable: true },
    ],
    description: "normalized ticks",
    properties: { classification: "parquet", "cryptopipe.schema": "v1" },
  };
  const plan = planTable("db.ticker", table, wanted, "Glue");
  assert.equal(plan.action, "update");
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(plan.changes, [
    "~ comment of column price",
    "+ column funding_rate double",
    "~ description",
    "+ property cryptopipe.schema = v1",
    "- property projection.enabled (was true)",
  ]);
});

Deno.test("catalog plan: retyped, renamed, dropped or required new columns, other keys or format are refused", () => {
  const cases: [Partial<TableShape>, RegExp][] = [
    [
      { columns: [table.columns[0], { name: "price", type: "string" }] },
      /column 2 is price double in Glue, price string in the code/,
    ],
    [
      { columns: [{ name: "ticker", type: "string" }, table.columns[1]] },
      /column 1 is symbol string in Glue, ticker string in the code/,
    ],
    [{ columns: [table.columns[0]] }, /column price is in Glue but no longer in the code/],
    [
      { columns: [...table.columns, { name: "venue", type: "string", nullable: false }] },
      /new column venue is not nullable/,
    ],
    [{ partitionKeys: ["dt string"] }, /partition keys are \(dt string, hour string\) in Glue/],
    [{ format: "json" }, /format is parquet in Glue, json in the code/],
  ];
  for (const [change, problem] of cases) {
    const plan = planTable("db.ticker", table, { ...table, ...change }, "Glue");
    assert.equal(plan.action, "refuse", JSON.stringify(change));
    assert.match(plan.problems.join("; "), problem);
  }
});

Deno.test("catalog plan: the dry-run report names each table, its action, changes and problems", () => {
  const report = formatPlans([
    planTable("db.a", table, table, "Glue"),
    planTable("db.b", table, { ...table, format: "json" }, "Glue"),
  ]);
  assert.equal(
    report,
    [
      "db.a: unchanged",
      "",
      "db.b: would be REFUSED (breaking change)",
      "  ~ format parquet → json",
      "  ! format is parquet in Glue, json in the code",
      "",
    ].join("\n"),
  );
});
