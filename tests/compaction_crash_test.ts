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
  cliCommand,
  kcatDump,
  kcatProduce,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce, readTable } from "./oracle.ts";
import { sleep } from "./processes.ts";

const HOUR_MS = 3_600_000;
const HOURS = 20;

type KillPoint = "delay" | "created" | "deleting";

const MARKERS: Record<Exclude<KillPoint, "delay">, string> = {
  created: "compacted file written",
  deleting: "deleting a compacted input",
};

/**
 * Run a compaction and kill -9 it the moment its stderr shows `marker` for the `nth` time (and
 * after `delayMs` more): read line by line, so the kill lands right at that point, not a poll
 * later. "ended" when the run finished first (nothing left there); its stderr is returned.
 */
async function compactAndKill(
  args: string[],
  marker: string,
  nth: number,
  delayMs: number,
): Promise<{ killed: boolean; code: number; stderr: string }> {
  const child = cliCommand(args).spawn();
  // Drained, not cancelled: a run that finishes writes its report there.
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  let seen = 0;
  let killed = false;
  let rest = "";
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += chunk;
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    if (!killed && lines.some((line) => line.includes(marker) && ++seen >= nth)) {
      if (delayMs > 0) await sleep(delayMs);
      try {
        child.kill("SIGKILL");
        killed = true;
      } catch { /* it had just ended */ }
    }
  }
  const status = await child.status;
  await stdout;
  // A kill that arrived after a clean exit is no kill.
  return { killed: killed && status.signal === "SIGKILL", code: status.code, stderr };
}

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
    const run = point === "delay"
      ? await compactAndKill(compactArgs, "compacting", 1, Math.floor(random() * 150))
      : await compactAndKill(compactArgs, MARKERS[point], 1 + Math.floor(random() * 3), 0);
    recovered += run.stderr.split("deleted a file an earlier compaction already covers").length - 1;
    if (run.killed) landed[point]++;
    else assert.equal(run.code, 0, `round ${rounds} failed:\n${run.stderr.slice(-3000)}`);
    // Nothing may be missing at any moment: the new file exists before an input is deleted.
    const present = new Set<string>();
    for (const file of await readTable(store, "ticker")) {
      for (const row of file.rows) present.add(`${row._kafka_partition}:${row._kafka_offset}`);
    }
    const missing = [...inTopic].filter((id) => !present.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `after round ${rounds} (${point}): records missing`);
  }
  console.log(
    `kills by point: ${
      JSON.stringify(landed)
    } in ${rounds} rounds; leftovers recovered: ${recovered}`,
  );
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
