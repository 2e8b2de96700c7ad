/**
 * kill -9 the consumer mid-stream, several times, then let it finish: every produced
 * (partition, offset) is in the lake exactly once, and no two files overlap.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  baseToml,
  cli,
  cliCommand,
  kcatDump,
  lakeFiles,
  queryLake,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function lakeRows(dir: string): Promise<number> {
  let rows = 0;
  for (const file of await lakeFiles(dir, ".jsonl")) {
    rows += (await Deno.readTextFile(file)).trimEnd().split("\n").length;
  }
  return rows;
}

Deno.test("crash: consumer killed with SIGKILL mid-stream loses nothing and duplicates nothing", async () => {
  const N = 30_000;
  const topic = uniqueName("crash");
  const { config, lake } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "ADA-USD"]
rate_per_second = 100000

[encode]
format = "jsonl"

[batch]
max_records = 400
max_age_secs = 0.3
until_idle_secs = 2

[query]
max_rows = 1000000
`,
  ));
  const produced = await cli(["--mode", "produce", "--config", config, "--max-records", String(N)]);
  assert.equal(produced.code, 0, produced.stderr);

  // Kill at different moments: while files are written and commits are in flight.
  let kills = 0;
  for (const delayAfterFirstFile of [150, 400, 900]) {
    const before = (await lakeFiles(join(lake, "ticker"), ".jsonl")).length;
    const child = cliCommand(["--mode", "consume", "--config", config, "--log-level", "warn"])
      .spawn();
    const deadline = Date.now() + 60_000;
    while (
      (await lakeFiles(join(lake, "ticker"), ".jsonl")).length <= before && Date.now() < deadline
    ) {
      await sleep(20);
    }
    assert.ok(Date.now() < deadline, "the consumer wrote a new file before the kill");
    await sleep(delayAfterFirstFile);
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    await child.stdout.cancel();
    await child.stderr.cancel();
    kills++;
    assert.ok(await lakeRows(join(lake, "ticker")) < N, "killed mid-stream, not after the end");
  }
  assert.equal(kills, 3);

  const finished = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
  assert.equal(finished.code, 0, finished.stderr);
  assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);

  const [stats] = await queryLake(
    config,
    "SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d FROM ticker",
  );
  assert.equal(stats.d, N, "no record lost");
  assert.equal(stats.n, N, "no record duplicated");
  const inTopic = new Set(
    (await kcatDump(testBrokers(), topic)).map((m) => `${m.partition}:${m.offset}`),
  );
  const inLake = await queryLake(
    config,
    "SELECT _kafka_partition AS p, _kafka_offset AS o FROM ticker",
  );
  assert.deepEqual(new Set(inLake.map((r) => `${r.p}:${r.o}`)), inTopic);

  // No two files of a partition share an offset (file ranges are disjoint).
  const ranges = new Map<string, Array<[number, number]>>();
  for (const file of await lakeFiles(join(lake, "ticker"), ".jsonl")) {
    const lines = (await Deno.readTextFile(file)).trimEnd().split("\n").map((l) => JSON.parse(l));
    const key = `${lines[0]._kafka_partition}`;
    const list = ranges.get(key) ?? [];
    list.push(...lines.map((l) => [l._kafka_offset, l._kafka_offset] as [number, number]));
    ranges.set(key, list);
  }
  for (const [partition, offsets] of ranges) {
    const seen = new Set(offsets.map(([o]) => o));
    assert.equal(
      seen.size,
      offsets.length,
      `partition ${partition}: an offset appears in two files`,
    );
  }
});

Deno.test("shutdown: SIGTERM flushes and commits what it read, exits 0 promptly, and the next run continues exactly", async () => {
  const N = 20_000;
  const topic = uniqueName("sigterm");
  const { config, lake } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[encode]
format = "jsonl"

[batch]
max_records = 1000000
max_age_secs = 600
until_idle_secs = 1.5

[query]
max_rows = 1000000
`,
  ));
  assert.equal(
    (await cli(["--mode", "produce", "--config", config, "--max-records", String(N)])).code,
    0,
  );
  // Nothing is flushed by size or age before the signal: whatever is in the lake afterwards
  // was written by the shutdown itself.
  const child = cliCommand(["--mode", "consume", "--config", config]).spawn();
  await sleep(6000);
  assert.equal(await lakeRows(join(lake, "ticker")), 0, "no flush before the signal");
  const signalled = Date.now();
  child.kill("SIGTERM");
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  assert.equal(status.code, 0, "a clean stop exits 0");
  assert.ok(Date.now() - signalled < 15_000, `stopped in ${Date.now() - signalled} ms`);
  const written = await lakeRows(join(lake, "ticker"));
  assert.ok(written > 0, "the shutdown flushed what was buffered");

  const rest = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(
    rest.stderr,
    new RegExp(`rows=${N - written} `),
    "the next run starts where the shutdown committed",
  );
  assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);
  const [stats] = await queryLake(
    config,
    "SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d FROM ticker",
  );
  assert.deepEqual([stats.n, stats.d], [N, N]);
});
