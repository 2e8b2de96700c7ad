/**
 * End to end on the real broker: produce K records with the CLI, check the topic with kcat,
 * consume into the lake until idle, catalog, and read the lake back with DuckDB: exactly the K
 * records kcat saw, each once, with the same payload.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createEncoder } from "../src/encode/mod.ts";
import {
  baseToml,
  cli,
  kcatDump,
  kcatProduce,
  lakeFiles,
  queryLake,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";

for (const format of ["parquet", "jsonl"] as const) {
  Deno.test(`e2e (${format}): K produced records are exactly the K lake rows`, async () => {
    const K = 3000;
    const topic = uniqueName("e2e");
    const { config, lake } = await workspace(baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USDT"]
rate_per_second = 100000

[encode]
format = "${format}"

[batch]
max_records = 700
max_age_secs = 1
until_idle_secs = 1.5
`,
    ));
    const produced = await cli([
      "--mode",
      "produce",
      "--config",
      config,
      "--max-records",
      String(K),
    ]);
    assert.equal(produced.code, 0, produced.stderr);

    const inTopic = await kcatDump(testBrokers(), topic);
    assert.equal(inTopic.length, K, "kcat sees exactly K records in the topic");

    const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);

    const rows = await queryLake(
      config,
      "SELECT _kafka_partition AS p, _kafka_offset AS o, symbol, price, event_time, dt, hour FROM ticker",
    );
    assert.equal(rows.length, K);
    const lakeByCoordinate = new Map(rows.map((r) => [`${r.p}:${r.o}`, r]));
    assert.equal(lakeByCoordinate.size, K, "no (partition, offset) twice");
    for (const message of inTopic) {
      const row = lakeByCoordinate.get(`${message.partition}:${message.offset}`);
      assert.ok(row, `record ${message.partition}:${message.offset} is in the lake`);
      const payload = JSON.parse(message.payload);
      assert.equal(row.symbol, payload.symbol);
      assert.equal(row.price, payload.price);
      assert.equal(row.event_time, payload.event_time);
      const iso = new Date(payload.event_time).toISOString();
      assert.equal(row.dt, iso.slice(0, 10));
      assert.equal(row.hour, iso.slice(11, 13));
    }
    // Files follow the layout and are cut at max_records rows.
    const files = await lakeFiles(join(lake, "ticker"));
    const encoder = createEncoder(format);
    let total = 0;
    for (const f of files) {
      assert.match(
        f,
        new RegExp(`/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/${topic}\\+\\d\\+\\d{20}\\.${format}$`),
      );
      const { records } = encoder.coverage(await Deno.readFile(f));
      assert.ok(records <= 700, `${f} has ${records} rows, more than batch.max_records`);
      total += records;
    }
    assert.equal(total, K);

    // A group that starts over (new group id, offset 0) meets every file and writes nothing.
    const before = files;
    await Deno.writeTextFile(
      config,
      (await Deno.readTextFile(config)).replace(
        /group_id = "[^"]+"/,
        `group_id = "${uniqueName("restart")}"`,
      ),
    );
    const again = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`rows=${K} dead_letters=0 unknown_schema=0 files=0 .*skipped_existing=${K}`),
    );
    assert.deepEqual(await lakeFiles(join(lake, "ticker")), before);
    // Nothing left in the temp folder.
    assert.deepEqual([...Deno.readDirSync(join(lake, ".tmp"))], []);
  });
}

Deno.test("e2e: replay keeps good rows, sends bad rows to the rejects topic, poison messages land in ticker_errors", async () => {
  const topic = uniqueName("replay");
  const { dir, config } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.history]
type = "replay"
path = "{csv}"

[batch]
max_age_secs = 1
until_idle_secs = 1.5
`,
  ));
  const sample = await Deno.readTextFile(
    join(import.meta.dirname!, "..", "examples", "ticker_sample.csv"),
  );
  const lines = sample.trimEnd().split("\n");
  const cells = lines[1].split(",");
  cells[lines[0].split(",").indexOf("price")] = "-5";
  const bad = [cells.join(","), "cryptopipe.ticker.v1,simulated,too,few,columns"];
  const csv = join(dir, "input.csv");
  await Deno.writeTextFile(csv, [...lines, ...bad].join("\n") + "\n");
  await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replace("{csv}", csv));

  const produced = await cli(["--mode", "produce", "--config", config]);
  assert.equal(produced.code, 0, produced.stderr);
  const good = lines.length - 1;
  assert.equal((await kcatDump(testBrokers(), topic)).length, good);
  const rejects = await kcatDump(testBrokers(), `${topic}.rejects`);
  assert.equal(rejects.length, 2);
  const rejected = rejects.map((r) => JSON.parse(r.payload));
  assert.match(rejected.map((r) => r.problems.join(";")).join("|"), /price: must be > 0/);
  assert.match(rejected.map((r) => r.problems.join(";")).join("|"), /expected 27 columns, found 5/);
  assert.ok(rejected.every((r) => r.origin.startsWith(csv + ":")));

  // A poison message written by another client must not stop the consumer or be lost.
  await kcatProduce(testBrokers(), topic, [
    "someone:else\t{not json",
    'x:y\t{"schema":"cryptopipe.ticker.v1"}',
  ]);

  assert.equal((await cli(["--mode", "consume", "--config", config, "--until-idle"])).code, 0);
  assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);
  const [{ n }] = await queryLake(config, "SELECT count(*) AS n FROM ticker");
  assert.equal(n, good);
  const errors = await queryLake(
    config,
    "SELECT key, payload, error FROM ticker_errors ORDER BY _kafka_offset",
  );
  assert.equal(errors.length, 2);
  assert.deepEqual(errors.map((e) => e.key).sort(), ["someone:else", "x:y"]);
  assert.ok(errors.some((e) => e.payload === "{not json" && /not JSON/.test(String(e.error))));
});

Deno.test("e2e: --max-records is exact even when sends overlap with the source", async () => {
  const topic = uniqueName("exact");
  const { config } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
rate_per_second = 50000

[produce]
batch_max_records = 100
batch_max_ms = 5
`,
  ));
  for (const n of [1, 777]) {
    const produced = await cli([
      "--mode",
      "produce",
      "--config",
      config,
      "--max-records",
      String(n),
    ]);
    assert.equal(produced.code, 0, produced.stderr);
  }
  assert.equal((await kcatDump(testBrokers(), topic)).length, 778);
});

Deno.test("e2e: produce creates its topics with bus.topic_partitions and topic_replication (more replicas than brokers is refused, naming why)", async () => {
  const topic = uniqueName("topics");
  const { config } = await workspace(
    baseToml(topic, uniqueName("group")).replace(
      "[bus]\n",
      "[bus]\ntopic_partitions = 5\ntopic_replication = 1\n",
    ),
  );
  const produced = await cli(["--mode", "produce", "--config", config, "--max-records", "10"]);
  assert.equal(produced.code, 0, produced.stderr);
  for (const name of [topic, `${topic}.rejects`, `${topic}.status`]) {
    const out = await new Deno.Command("kcat", {
      args: ["-L", "-b", testBrokers(), "-t", name],
      stdout: "piped",
    }).output();
    assert.match(new TextDecoder().decode(out.stdout), /with 5 partitions/, name);
  }
  const refused = await workspace(
    baseToml(uniqueName("topics"), uniqueName("group")).replace(
      "[bus]\n",
      "[bus]\ntopic_replication = 2\n",
    ),
  );
  const run = await cli(["--mode", "produce", "--config", refused.config, "--max-records", "1"]);
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /^error: Cannot create topics .*\(Replication-factor is invalid\)/);
});
