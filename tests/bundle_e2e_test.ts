/**
 * The shipped bundle (`deno task bundle`) end to end: copied into a clean folder, run through
 * its launcher with an empty DENO_DIR, against the test Kafka broker and moto_server. Every run
 * gets only the permissions src/permissions.ts derives for its mode, so each mode passing here
 * also proves its set is enough.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { cleanBundle, downloadedPackages, runArtifact } from "./artifact.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  freshBucket,
  queryLake,
  REPO_ROOT,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";

async function gitHead(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", REPO_ROOT, "rev-parse", "HEAD"] })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("bundle e2e: from a clean folder with an empty DENO_DIR, --version reports the version and the build's commit; nothing is downloaded", async () => {
  await using bundle = await cleanBundle();
  const version = await runArtifact(bundle, ["--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.match(
    version.stdout,
    /^cryptopipe \d+\.\d+\.\d+ \(commit [0-9a-f]{40}(-dirty)?, deno 2\.9\.6\)\n$/,
  );
  assert.ok(version.stdout.includes(await gitHead()), version.stdout);
  const help = await runArtifact(bundle, ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--mode <produce\|consume\|catalog\|query>/);
  assert.deepEqual(await downloadedPackages(bundle), []);
});

Deno.test("bundle e2e (local lake): produce (replay, then simulated with a count) → consume → catalog, all from the bundle; local query exits 2 naming the alternatives", async () => {
  await using bundle = await cleanBundle();
  const { dir, config, lake } = await workspace(
    baseToml(
      uniqueName("bundle"),
      uniqueName("group"),
      `
[sources.replayed]
type = "replay"
path = "ticker sample.csv"

[sources.sim]
type = "simulated"
rate_per_second = 500
`,
    ),
  );
  // A space in the path: the launcher must keep it one argument.
  await Deno.copyFile(
    join(REPO_ROOT, "examples", "ticker_sample.csv"),
    join(dir, "ticker sample.csv"),
  );

  const replayed = await runArtifact(
    bundle,
    ["--mode", "produce", "--config", config, "--source", "replayed"],
    {},
    dir,
  );
  assert.equal(replayed.code, 0, replayed.stderr);
  const simulated = await runArtifact(
    bundle,
    ["--mode", "produce", "--config", config, "--source", "sim", "--max-records", "40"],
    {},
    dir,
  );
  assert.equal(simulated.code, 0, simulated.stderr);

  const consumed = await runArtifact(
    bundle,
    ["--mode", "consume", "--config", config, "--until-idle"],
    {},
    dir,
  );
  assert.equal(consumed.code, 0, consumed.stderr);
  const catalogued = await runArtifact(bundle, ["--mode", "catalog", "--config", config], {}, dir);
  assert.equal(catalogued.code, 0, catalogued.stderr);

  // Read back from a checkout (DuckDB): 48 replayed + 40 simulated records, each once (the
  // sample file's rows are simulated ones too).
  const rows = await queryLake(
    config,
    "SELECT source, count(*) AS n FROM ticker GROUP BY 1 ORDER BY 1",
  );
  assert.deepEqual(rows.map((r) => [r.source, Number(r.n)]), [["simulated", 88]]);

  const local = await runArtifact(
    bundle,
    ["--mode", "query", "--config", config, "--named", "latest"],
    {},
    dir,
  );
  assert.equal(local.code, 2);
  assert.equal(local.stdout, "");
  assert.equal(local.stderr.trim().split("\n").length, 1, local.stderr);
  assert.match(
    local.stderr,
    /^error: Local query .* not available in the bundle: DuckDB is a native addon; .*engine = "athena".*deno task cryptopipe/,
  );
  assert.deepEqual(await downloadedPackages(bundle), []);
  assert.ok((await Deno.stat(lake)).isDirectory);
});

Deno.test("bundle e2e (moto): produce (simulated, counted) → consume to S3 → catalog in Glue → query on Athena into --output, all from the bundle", async () => {
  await using bundle = await cleanBundle();
  const endpoint = testS3Endpoint();
  const bucket = await freshBucket();
  const database = `db_${crypto.randomUUID().slice(0, 8)}`;
  const { dir, config } = await workspace(
    baseToml(uniqueName("bundle-s3"), uniqueName("group")).replace(
      /\[store\]\npath = "\{lake\}"\n/,
      `[store]
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${endpoint}"
force_path_style = true

[encode]
format = "jsonl"

[catalog]
type = "glue"
database = "${database}"
endpoint = "${endpoint}"

[query]
engine = "athena"
endpoint = "${endpoint}"
output_location = "s3://${bucket}/athena/"
format = "json"
`,
    ),
  );
  const run = (args: string[]) =>
    runArtifact(bundle, ["--config", config, ...args], AWS_TEST_ENV, dir);

  const produced = await run(["--mode", "produce", "--max-records", "30"]);
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run(["--mode", "consume", "--until-idle"]);
  assert.equal(consumed.code, 0, consumed.stderr);
  const store = testS3Store(bucket, "lake");
  const keys = (await store.list("ticker/")).filter((k) => k.includes(".jsonl"));
  assert.ok(keys.length > 0, "consume wrote lake files to S3");
  let lines = 0;
  for (const key of keys) {
    lines += new TextDecoder().decode(await store.read(key)).trim().split("\n").length;
  }
  assert.equal(lines, 30);

  const catalogued = await run(["--mode", "catalog"]);
  assert.equal(catalogued.code, 0, catalogued.stderr);
  const glue = new GlueClient({ endpoint, region: "us-east-1" });
  const table = await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticker" }));
  glue.destroy();
  assert.equal(table.Table?.StorageDescriptor?.Location, `s3://${bucket}/lake/ticker/`);

  // moto runs no SQL: queue the rows Athena will return (as tests/athena_e2e_test.ts does).
  const queued = await fetch(`${endpoint}/moto-api/static/athena/query-results`, {
    method: "POST",
    body: JSON.stringify({
      account_id: "123456789012",
      region: "us-east-1",
      results: [{
        rows: [
          { Data: [{ VarCharValue: "symbol" }, { VarCharValue: "n" }] },
          { Data: [{ VarCharValue: "BTC-USD" }, { VarCharValue: "6" }] },
        ],
        column_info: [{ Name: "symbol", Type: "varchar" }, { Name: "n", Type: "bigint" }],
      }],
    }),
  });
  await queued.body?.cancel();
  assert.ok(queued.ok);
  const queried = await run([
    "--mode",
    "query",
    "--sql",
    "SELECT symbol, count(*) AS n FROM ticker GROUP BY 1",
    "--output",
    "result file.json",
  ]);
  assert.equal(queried.code, 0, queried.stderr);
  assert.equal(queried.stdout, "");
  const written = await Deno.readTextFile(join(dir, "result file.json"));
  assert.deepEqual(JSON.parse(written), [{ symbol: "BTC-USD", n: 6 }]);
  assert.deepEqual(await downloadedPackages(bundle), []);
});
