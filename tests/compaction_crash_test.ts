/**
 * kill -9 of `catalog --compact` at random points, again and again: before it writes, right
 * after a compacted file is created (before its inputs are deleted), in the middle of the
 * deletes, or after a random delay. After every kill no record of the topic is missing from
 * the lake (plain readers may see a group twice only inside the overlap window); a final run
 * finishes the work and the lake holds every record exactly once, one file per (hour, Kafka
 * partition).
 *
 * CRYPTOPIPE_FAULT_KILLS sets the number of kills (default 20) and CRYPTOPIPE_FAULT_SEED
 * replays a run; both are printed.
 */
import assert from "node:assert/strict";
import { seededRandom } from "../src/source/simulated.ts";
import { FileStore } from "../src/store/file.ts";
import {
  baseToml,
  cli,
  kcatDump,
  kcatProduce,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce, readTable } from "./oracle.ts";
import { CliProcess, sleep } from "./processes.ts";

const HOUR_MS = 3_600_000;
const HOURS = 20;

type KillPoint = "delay" | "created" | "deleting";

const MARKERS: Record<Exclude<KillPoint, "delay">, RegExp> = {
  created: /compacted file written/,
  deleting: /deleting a compacted input/,
};

Deno.test("compaction crash: kill -9 at random points, many times, then a rerun: every record exactly once", async () => {
  const kills = Number(Deno.env.get("CRYPTOPIPE_FAULT_KILLS") ?? 20);
  const seed = Number(Deno.env.get("CRYPTOPIPE_FAULT_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  console.log(
    `compaction crash test: ${kills} kills, seed ${seed} (CRYPTOPIPE_FAULT_KILLS, CRYPTOPIPE_FAULT_SEED)`,
  );
  const random = seededRandom(seed);
  const topic = uniqueName("compactcrash");
  const { config, lake } = await workspace(
    baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD"]
rate_per_second = 3000
seed = ${seed}

[encode]
format = "parquet"

[batch]
max_records = 6
until_idle_secs = 1.5
`,
    ),
  );
  const produced = await cli(["--mode", "produce", "--config", config, "--max-records", "600"]);
  assert.equal(produced.code, 0, produced.stderr);
  // Spread copies over twenty earlier hours: many (hour, partition) groups to compact.
  const copies = (await kcatDump(testBrokers(), topic)).map((m, i) => {
    const record = JSON.parse(m.payload);
    record.event_time -= (1 + (i % HOURS)) * HOUR_MS;
    record.ingest_time -= (1 + (i % HOURS)) * HOUR_MS;
    return `${m.key}\t${JSON.stringify(record)}`;
  });
  await kcatProduce(testBrokers(), topic, copies);
  const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
  assert.equal(consumed.code, 0, consumed.stderr);

  const store = new FileStore(lake);
  const inTopic = new Set(
    (await kcatDump(testBrokers(), topic)).map((m) => `${m.partition}:${m.offset}`),
  );
  const filesBefore = (await store.list("ticker")).length;
  console.log(`${inTopic.size} records in ${filesBefore} small files`);

  const compactArgs = [
    "--mode",
    "catalog",
    "--config",
    config,
    "--compact",
    "--before",
    "9999-12-31",
    "--log-level",
    "debug",
  ];
  const landed: Record<KillPoint, number> = { delay: 0, created: 0, deleting: 0 };
  let recovered = 0;
  let rounds = 0;
  while (Object.values(landed).reduce((a, b) => a + b, 0) < kills) {
    assert.ok(
      rounds++ < kills * 3,
      `only ${JSON.stringify(landed)} kills landed in ${rounds} rounds`,
    );
    const point = (["delay", "created", "deleting"] as const)[Math.floor(random() * 3)];
    const child = new CliProcess(`compact round ${rounds}`, compactArgs);
    try {
      if (point === "delay") {
        await child.waitFor(/compacting/, 60_000);
        await sleep(Math.floor(random() * 400));
      } else {
        await child.waitFor(MARKERS[point], 60_000, 1 + Math.floor(random() * 3));
      }
      if (child.exited) continue;
      child.signal("SIGKILL");
      await child.finished();
      landed[point]++;
    } catch {
      // The run ended before reaching the point (nothing left to do there): no kill, but it
      // must have ended well.
      const status = await child.finished();
      assert.equal(status.code, 0, `round ${rounds} failed:\n${child.tail()}`);
    } finally {
      await child.dispose();
      recovered += child.count(/deleted a file an earlier compaction already covers/);
    }
    // Nothing may be missing at any moment: the new file exists before an input is deleted.
    const present = new Set<string>();
    for (const file of await readTable(store, "ticker")) {
      for (const row of file.rows) present.add(`${row._kafka_partition}:${row._kafka_offset}`);
    }
    const missing = [...inTopic].filter((id) => !present.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `after round ${rounds} (${point}): records missing`);
  }
  console.log(`kills by point: ${JSON.stringify(landed)}; leftovers recovered: ${recovered}`);
  // Kills after a create left inputs behind, and a later run found and removed them.
  if (landed.created + landed.deleting >= 5) assert.ok(recovered > 0, "no rerun met leftovers");

  const final = await cli(compactArgs.slice(0, -2));
  assert.equal(final.code, 0, final.stderr);
  const check = await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  assert.equal(check.rows, inTopic.size);
  const after = await store.list("ticker");
  for (const key of after) {
    assert.match(key, /\+\d{20}-\d{20}\.parquet$/, `${key} left uncompacted`);
  }
  const groups = new Set(after.map((k) => `${k.slice(0, k.lastIndexOf("/"))} ${k.split("+")[1]}`));
  assert.equal(after.length, groups.size, "one file per (hour, partition)");
  // A second run has nothing left to do.
  const idle = await cli(compactArgs.slice(0, -2));
  assert.match(idle.stdout, /compacted 0 \(hour, partition\) group/);
});
