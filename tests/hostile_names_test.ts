/**
 * Hostile names and input: every name that reaches a path or an object key (topics, tables,
 * the database, source names, symbols, the S3 prefix, credential names) refuses `..`, absolute
 * paths, NUL, control characters and overlong values with one config error line naming the
 * key (exit 2); the lake layout and the local store refuse hostile keys again; and records
 * with hostile symbols, consumed from a real broker, land in the errors table while nothing
 * at all is written outside the lake root (the folders around it are snapshotted).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { runCli } from "../src/cli.ts";
import { EXIT } from "../src/errors.ts";
import { sampleTicker } from "../src/record/testing.ts";
import { FileStore } from "../src/store/file.ts";
import { objectKey } from "../src/store/layout.ts";
import {
  baseToml,
  cli,
  freshBucket,
  kcatProduce,
  queryLake,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
} from "./helpers.ts";

const HOSTILE = [
  "../evil",
  "../../../../evil",
  "..",
  ".",
  "/tmp/evil",
  "a/../../evil",
  "a\u0000b",
  "a\nb",
  "a\u001b[31mb",
  "a\\..\\evil",
  "x".repeat(300),
];

/** Every path under `dir` (folders and files), except those under `skip`. */
async function snapshot(dir: string, skip?: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const entry of Deno.readDir(d)) {
      const path = join(d, entry.name);
      if (skip && (path === skip || path.startsWith(skip + "/"))) continue;
      out.push(relative(dir, path));
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The CLI in this process (fast: no subprocess per case); returns the exit code and stderr. */
async function printConfig(toml: string): Promise<{ code: number; stderr: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-hostile-" });
  const file = join(dir, "c.toml");
  await Deno.writeTextFile(file, toml);
  const stderr: string[] = [];
  const code = await runCli(["--print-config", "--log-format", "text", "--config", file], {
    stdout: () => Promise.resolve(),
    stderr: (text) => stderr.push(text),
    forceExit: () => {},
  });
  await Deno.remove(dir, { recursive: true });
  return { code, stderr };
}

Deno.test("hostile names: each name that reaches a path or key refuses ../, absolute paths, NUL, control characters and overlong values with exit 2 naming the key", async () => {
  // [dotted key shown in the error, TOML using the value]
  const places: Array<[string, (v: string) => string]> = [
    ["bus.topic", (v) => `[bus]\ntopic = ${JSON.stringify(v)}`],
    ["bus.rejects_topic", (v) => `[bus]\nrejects_topic = ${JSON.stringify(v)}`],
    ["bus.status_topic", (v) => `[bus]\nstatus_topic = ${JSON.stringify(v)}`],
    ["store.table", (v) => `[store]\ntable = ${JSON.stringify(v)}`],
    ["store.errors_table", (v) => `[store]\nerrors_table = ${JSON.stringify(v)}`],
    ["store.prefix", (v) => `[store]\nprefix = ${JSON.stringify(v)}`],
    ["catalog.database", (v) => `[catalog]\ndatabase = ${JSON.stringify(v)}`],
    [
      "sources",
      (v) => `[sources.${JSON.stringify(v)}]\ntype = "simulated"`,
    ],
    [
      "sources.sim.symbols.0",
      (v) => `[sources.sim]\ntype = "simulated"\nsymbols = [${JSON.stringify(v)}]`,
    ],
    [
      "bus.sasl.password_credential",
      (v) =>
        `[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "u"\npassword_credential = ${
          JSON.stringify(v)
        }`,
    ],
  ];
  let checked = 0;
  for (const [key, toml] of places) {
    for (const value of HOSTILE) {
      const { code, stderr } = await printConfig(toml(value));
      const what = `${key} = ${JSON.stringify(value)}`;
      assert.equal(code, EXIT.usage, `${what}: ${stderr.join("\n")}`);
      assert.equal(stderr.length, 1, `${what}: one line, no stack: ${stderr.join("\n")}`);
      assert.match(stderr[0], /^error: Invalid config /, what);
      assert.ok(stderr[0].includes(key), `${what}: the error names the key: ${stderr[0]}`);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(stderr[0]), `${what}: escaped in the error`);
      checked++;
    }
  }
  assert.equal(checked, places.length * HOSTILE.length);
  // The control: the same places take ordinary names.
  const fine = await printConfig(
    `[bus]\ntopic = "crypto.ticker.v1"\n[store]\ntable = "t1"\nprefix = "lake/v1"\n`,
  );
  assert.equal(fine.code, EXIT.ok, fine.stderr.join("\n"));
});

Deno.test("hostile names: an environment override with a hostile table is refused the same way", async () => {
  const result = await cli(["--print-config", "--config", "/dev/null"], {
    CRYPTOPIPE_STORE__TABLE: "../../evil",
  });
  assert.equal(result.code, EXIT.usage, result.stderr);
  assert.match(
    result.stderr,
    /^error: Invalid config environment CRYPTOPIPE_STORE__TABLE: store\.table: must be lower-case/m,
  );
});

Deno.test("hostile names: the lake layout and the local store refuse hostile keys and write nothing outside the lake", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-hostile-" });
  const lake = join(dir, "a", "b", "lake");
  await Deno.mkdir(lake, { recursive: true });
  const store = new FileStore(lake);
  await store.createOnce(
    "ticker/dt=2026-11-25/hour=00/ok+0+00000000000000000000.jsonl",
    new Uint8Array([1]),
  );
  const before = await snapshot(dir, lake);
  const part = { dt: "2026-11-25", hour: "00" };
  for (const name of HOSTILE) {
    assert.throws(() => objectKey(name, part, "topic", 0, 0, "jsonl"), /table/, name);
    assert.throws(() => objectKey("ticker", part, name, 0, 0, "jsonl"), /topic/, name);
    for (const key of [name, `ticker/${name}/f.jsonl`, `${name}/x`, `ticker/dt=1/${name}`]) {
      await assert.rejects(store.createOnce(key, new Uint8Array([1])), /lake key/, key);
      await assert.rejects(store.read(key), /lake key/, key);
    }
  }
  assert.deepEqual(await snapshot(dir, lake), before, "nothing new outside the lake");
  assert.deepEqual(
    await store.list("ticker"),
    ["ticker/dt=2026-11-25/hour=00/ok+0+00000000000000000000.jsonl"],
    "and nothing new inside it",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("hostile names: the S3 store (moto) refuses hostile keys; nothing lands outside its prefix", async () => {
  const bucket = await freshBucket();
  const store = testS3Store(bucket, "lake");
  await store.createOnce("ticker/ok.jsonl", new Uint8Array([1]));
  for (const name of HOSTILE) {
    for (const key of [name, `ticker/${name}/f.jsonl`, `${name}/x`]) {
      await assert.rejects(store.createOnce(key, new Uint8Array([1])), /lake key/, key);
    }
  }
  // Every object in the bucket, listed straight through the S3 API (ListObjectsV2).
  const listing = await (await fetch(`${testS3Endpoint()}/${bucket}?list-type=2`)).text();
  const keys = [...listing.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
  assert.deepEqual(keys, ["lake/ticker/ok.jsonl"]);
});

Deno.test("hostile names: records with hostile symbols from a real broker go to the errors table; nothing is written outside the lake", async () => {
  const topic = uniqueName("hostile");
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-hostile-" });
  // The lake sits three folders down, so a record that climbed out would land in `dir`.
  const lake = join(dir, "a", "b", "lake");
  await Deno.mkdir(lake, { recursive: true });
  const config = join(dir, "cryptopipe.toml");
  await Deno.writeTextFile(
    config,
    baseToml(topic, uniqueName("group"), "[batch]\nmax_age_secs = 1\nuntil_idle_secs = 1.5\n")
      .replace("{lake}", lake),
  );
  const hostile = HOSTILE.map((symbol, i) =>
    `k${i}\t${JSON.stringify(sampleTicker({ symbol, base: symbol, source_symbol: symbol }))}`
  );
  const good = `good\t${JSON.stringify(sampleTicker())}`;
  await kcatProduce(testBrokers(), topic, [...hostile, good]);
  const before = await snapshot(dir, lake);

  const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
  assert.equal(consumed.code, EXIT.ok, consumed.stderr);
  assert.equal((await cli(["--mode", "catalog", "--config", config])).code, EXIT.ok);

  assert.deepEqual(await snapshot(dir, lake), before, "nothing new outside the lake");
  const rows = await queryLake(config, "SELECT symbol FROM ticker");
  assert.deepEqual(rows.map((r) => r.symbol), ["BTC-USD"], "the good record was written");
  const errors = await queryLake(config, "SELECT key, error FROM ticker_errors ORDER BY key");
  assert.equal(errors.length, HOSTILE.length, JSON.stringify(errors));
  assert.ok(errors.every((e) => /symbol|base/.test(String(e.error))), JSON.stringify(errors));
  // Every lake file name is one of ours: table/dt=/hour=/topic+partition+offset.ext.
  for (const path of await snapshot(lake)) {
    assert.match(
      path,
      /^(\.tmp|_catalog.*|ticker(_errors)?(\/dt=[\d-]+(\/hour=\d\d(\/[A-Za-z0-9._-]+\+\d+\+\d{20}\.[a-z.]+)?)?)?)$/,
      path,
    );
  }
  await Deno.remove(dir, { recursive: true });
});
