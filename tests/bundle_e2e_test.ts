/**
 * The shipped bundle (`deno task bundle`) end to end: copied into a clean folder, run through
 * its launcher with an empty DENO_DIR, against the test Kafka broker and moto_server. Every run
 * gets only the permissions src/permissions.ts derives for its mode, so each mode passing here
 * also proves its set is enough.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { freePort } from "../scripts/local_kafka.ts";
import { sampleTicker } from "../src/record/testing.ts";
import { FileStore } from "../src/store/file.ts";
import { NotifyReceiver } from "../src/systemd_notify_testing.ts";
import { cleanBundle, downloadedPackages, runArtifact, spawnArtifact } from "./artifact.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  freshBucket,
  kcatDump,
  kcatProduce,
  lakeFiles,
  queryLake,
  REPO_ROOT,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { readTable } from "./oracle.ts";
import { sleep } from "./processes.ts";

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

Deno.test("bundle e2e (local lake, actions): produce serves /metrics and says READY=1 to NOTIFY_SOCKET; catalog --compact and --expire [--dry-run]; consume --reset-offsets (dry runs, a real reset) and --reread into a table, all from the bundle", async () => {
  await using bundle = await cleanBundle();
  const port = freePort();
  const topic = uniqueName("bundle-actions");
  const { dir, config, lake } = await workspace(
    baseToml(
      topic,
      uniqueName("group"),
      `retention_days = 30

[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "ADA-USD"]
rate_per_second = 200

[batch]
max_records = 25
until_idle_secs = 1

[metrics]
listen = "127.0.0.1:${port}"
`,
    ),
  );
  const run = async (...args: string[]) => {
    const result = await runArtifact(bundle, ["--config", config, ...args], {}, dir);
    assert.equal(result.code, 0, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
    return result.stdout;
  };

  // produce as systemd would start it: NOTIFY_SOCKET bound by the test, a runtime directory.
  const runtime = join(dir, "run");
  await Deno.mkdir(runtime);
  const receiver = new NotifyReceiver(join(dir, "systemd-notify"));
  try {
    await using produce = spawnArtifact(bundle, ["--mode", "produce", "--config", config], {
      NOTIFY_SOCKET: receiver.path,
      RUNTIME_DIRECTORY: runtime,
    }, dir);
    await receiver.waitFor((m) => m.some((x) => x.startsWith("READY=1")), 60_000).catch(
      (error) => {
        throw new Error(`${error.message}\n${produce.stderr()}`);
      },
    );
    let metrics = "";
    for (let i = 0; i < 50 && !/^cryptopipe_records_out_total\S* [1-9]/m.test(metrics); i++) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      metrics = await response.text();
      await sleep(200);
    }
    assert.match(metrics, /^cryptopipe_records_out_total\S* [1-9]/m, produce.stderr());
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(await produce.stop(), 0, produce.stderr());
    await receiver.waitFor((m) => m.some((x) => x.startsWith("STOPPING=1")));
  } finally {
    await receiver.close();
  }

  // Four records 90 days old: a dt partition past retention_days.
  const day = 86_400_000;
  const now = Date.now();
  await kcatProduce(
    testBrokers(),
    topic,
    [0, 1, 2, 3].map((i) =>
      `old${i}\t${
        JSON.stringify(sampleTicker({ event_time: now - 90 * day, ingest_time: now - 90 * day }))
      }`
    ),
  );
  await run("--mode", "consume", "--until-idle");
  await run("--mode", "catalog");
  const count = async () =>
    Number((await queryLake(config, "SELECT count(*) AS n FROM ticker"))[0].n);
  const rows = await count();
  const sent = (await kcatDump(testBrokers(), topic)).length;
  assert.equal(rows, sent);
  const small = await lakeFiles(join(lake, "ticker"), ".parquet");

  // Compaction: --before in the future, so every hour is finished; same rows, fewer files.
  const compacted = await run("--mode", "catalog", "--compact", "--before", "9999-12-31");
  assert.match(compacted, /compacted \d+ \(hour, partition\) group\(s\): [\d,]+ files/);
  const after = await lakeFiles(join(lake, "ticker"), ".parquet");
  assert.ok(after.length < small.length, `${small.length} → ${after.length} files`);
  await run("--mode", "catalog");
  assert.equal(await count(), rows);

  // Retention: the dry run names the 90-day-old partition; the real run deletes it.
  const oldDt = `dt=${new Date(now - 90 * day).toISOString().slice(0, 10)}`;
  const dry = await run("--mode", "catalog", "--expire", "--dry-run");
  assert.match(dry, /that would be deleted \(dry run: nothing changed\): 1/);
  assert.match(dry, new RegExp(`ticker/${oldDt}`));
  assert.match(await run("--mode", "catalog", "--expire"), /deleted: 1/);
  await run("--mode", "catalog");
  assert.equal(await count(), rows - 4);

  // Offset resets: dry runs of each target kind, then a real reset to earliest.
  const plan = (stdout: string) => {
    const lines = stdout.trimEnd().split("\n");
    const header = lines.findIndex((l) => l.startsWith("partition"));
    assert.ok(header >= 0, stdout);
    return lines.slice(header + 1).map((l) => l.trim().split(/\s+/).slice(0, 3).map(Number));
  };
  const ends = new Map<number, number>();
  for (const m of await kcatDump(testBrokers(), topic)) {
    ends.set(m.partition, Math.max(ends.get(m.partition) ?? 0, m.offset + 1));
  }
  const earliest = await run("--mode", "consume", "--reset-offsets", "earliest", "--dry-run");
  assert.match(earliest, /dry run: nothing changed/);
  assert.deepEqual(plan(earliest), [0, 1, 2].map((p) => [p, ends.get(p), 0]));
  assert.deepEqual(
    plan(await run("--mode", "consume", "--reset-offsets", "latest", "--dry-run")),
    [0, 1, 2].map((p) => [p, ends.get(p), ends.get(p)]),
  );
  assert.deepEqual(
    plan(await run("--mode", "consume", "--reset-offsets", "1:2", "--dry-run")),
    [[1, ends.get(1), 2]],
  );
  const timed = await run(
    "--mode",
    "consume",
    "--reset-offsets",
    new Date(now + day).toISOString(),
    "--dry-run",
  );
  assert.equal(plan(timed).length, 3, timed);
  assert.match(await run("--mode", "consume", "--reset-offsets", "earliest"), /\(applied\)/);
  assert.deepEqual(
    plan(await run("--mode", "consume", "--reset-offsets", "latest", "--dry-run")),
    [0, 1, 2].map((p) => [p, 0, ends.get(p)]),
    "the group is at offset 0 everywhere",
  );

  // A re-read of offsets 0 to 4 of partition 0 into its own table.
  const reread = await run(
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "0",
    "--from-offset",
    "0",
    "--to-offset",
    "4",
    "--into-table",
    "fix_bundle",
  );
  assert.match(reread, /rows 5, error rows 0/);
  const fixed = (await readTable(new FileStore(lake), "fix_bundle")).flatMap((f) => f.rows);
  assert.deepEqual(
    fixed.map((r) => Number(r._kafka_offset)).sort((a, b) => a - b),
    [0, 1, 2, 3, 4],
  );
  assert.ok(fixed.every((r) => Number(r._kafka_partition) === 0));
  assert.deepEqual(await downloadedPackages(bundle), []);
});
