import assert from "node:assert/strict";
import { join } from "node:path";
import { configSchema } from "../config/schema.ts";
import { LocalCatalog } from "./local.ts";
import { lakeTables, type TableDefinition } from "./mod.ts";

async function setup() {
  const lake = await Deno.makeTempDir();
  const [ticker] = lakeTables(configSchema.parse({ store: { path: lake } }));
  return { lake, ticker, catalog: new LocalCatalog(lake, "cryptopipe") };
}

Deno.test("local catalog: register is idempotent, a nullable column at the end updates, plans change nothing", async () => {
  const { lake, ticker, catalog } = await setup();
  assert.equal((await catalog.plan(ticker)).action, "create");
  assert.deepEqual(await catalog.tables(), [], "a plan writes no manifest");
  assert.equal(await catalog.register(ticker), "created");
  assert.equal(await catalog.register(ticker), "unchanged");
  const grown: TableDefinition = {
    ...ticker,
    columns: [...ticker.columns, {
      name: "open_interest",
      type: "float64",
      nullable: true,
      doc: "",
    }],
  };
  assert.deepEqual((await catalog.plan(grown)).changes, ["+ column open_interest float64"]);
  assert.equal(await catalog.register(grown), "updated");
  const manifest = JSON.parse(
    await Deno.readTextFile(join(lake, "_catalog", "cryptopipe", "ticker.json")),
  );
  assert.equal(manifest.columns.at(-1).name, "open_interest");
});

Deno.test("local catalog: a breaking change is refused like Glue's, and the manifest stays", async () => {
  const { ticker, catalog } = await setup();
  await catalog.register(ticker);
  const retyped = {
    ...ticker,
    columns: ticker.columns.map((c) => c.name === "price" ? { ...c, type: "string" as const } : c),
  };
  await assert.rejects(
    () => catalog.register(retyped),
    /Local table cryptopipe\.ticker .* does not match .*price float64 in the local catalog, price string in the code/,
  );
  const [kept] = (await catalog.tables()).filter((t) => t.name === "ticker");
  assert.equal(kept.columns.find((c) => c.name === "price")?.type, "float64");
});

Deno.test("lake tables: every column and partition key is a lower-case identifier (Glue folds names)", () => {
  for (const table of lakeTables(configSchema.parse({}))) {
    for (const name of [...table.columns, ...table.partitionKeys].map((c) => c.name)) {
      assert.match(name, /^[a-z_][a-z0-9_]*$/, `${table.name}.${name}`);
    }
  }
});
