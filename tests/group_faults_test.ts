/**
 * Consumer-group and broker faults against real Kafka (reliability-and-bench.md §3, local-stack.md
 * §4), each ending with the exactly-once oracle:
 * - a stalled old owner (SIGSTOP past the session timeout, a new member takes over, SIGCONT): the
 *   zombie's late uploads meet write-once keys;
 * - two members of one group on four partitions, each leaving (SIGTERM) and rejoining in turn;
 * - the broker killed with SIGKILL and restarted on the same data and port while one consumer
 *   process keeps running: it must resume by itself within its retry budget.
 * Flushes are short and by wall clock, so the cuts differ from run to run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, startBroker } from "../scripts/local_kafka.ts";
import { cli, lakeFiles, testBrokers, uniqueName, workspace } from "./helpers.ts";
import { assertExactlyOnce } from "./oracle.ts";
import { CliProcess, disposeAll, sleep } from "./processes.ts";

const SESSION_MS = 1500;
/** Enough keys that every partition of a 3- or 4-partition topic gets records. */
const SYMBOLS = [
  "BTC-USD",
  "ETH-USD",
  "SOL-USD",
  "XRP-USD",
  "DOGE-USD",
  "ADA-USD",
  "DOT-USD",
  "LTC-USD",
  "AVAX-USD",
  "LINK-USD",
  "BTC-EUR",
  "ETH-EUR",
];

function faultToml(options: {
  brokers: string;
  topic: string;
  group: string;
  ratePerSecond: number;
  format?: "jsonl" | "parquet";
  partitions?: number;
  retry?: { retries: number; initialMs: number; maxMs: number };
  untilIdleSecs?: number;
}): string {
  const retry = options.retry ?? { retries: 5, initialMs: 300, maxMs: 3000 };
  return `
[bus]
brokers = ["${options.brokers}"]
topic = "${options.topic}"
group_id = "${options.group}"
session_timeout_ms = ${SESSION_MS}
topic_partitions = ${options.partitions ?? 3}

[bus.retry]
retries = ${retry.retries}
initial_ms = ${retry.initialMs}
max_ms = ${retry.maxMs}

[sources.sim]
type = "simulated"
symbols = ${JSON.stringify(SYMBOLS)}
rate_per_second = ${options.ratePerSecond}

[encode]
format = "${options.format ?? "jsonl"}"

[batch]
max_records = 300
max_age_secs = 0.3
until_idle_secs = ${options.untilIdleSecs ?? 2}

[store]
path = "{lake}"
`;
}

const consumeArgs = (config: string, ...extra: string[]) => [
  "--mode",
  "consume",
  "--config",
  config,
  "--log-level",
  "info",
  ...extra,
];

const produceArgs = (config: string, records: number) => [
  "--mode",
  "produce",
  "--config",
  config,
  "--max-records",
  String(records),
  "--log-level",
  "warn",
];

const ASSIGNED = /partitions assigned .*partitions=\d/;
const FLUSHED = /^info\s+flushed /;
const SKIPPED_FILE = /file already in the lake, skipping/;
const COMMIT_SKIPPED = /commit skipped: the group is rebalancing/;
const COMMIT_HELD = /commit held:/;

/** The `skipped_existing=N` of a consumer's final summary line (undefined if it never got there). */
function skippedExisting(p: CliProcess): number | undefined {
  const line = p.lines(/consume finished/).pop();
  const match = line && /skipped_existing=(\d+)/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/** What a consumer went through, in one line for the test log. */
function describe(p: CliProcess, status: Deno.CommandStatus): string {
  return `${p.name}: exit ${status.code}${status.signal ? ` (${status.signal})` : ""}, ` +
    `${p.count(ASSIGNED)} assignments, ${p.count(FLUSHED)} flushes, ` +
    `${p.count(SKIPPED_FILE)} existing files met, skipped_existing=${skippedExisting(p) ?? "?"}, ` +
    `${p.count(COMMIT_SKIPPED)} commits skipped (rebalance), ${p.count(COMMIT_HELD)} commits held`;
}

async function lakeRows(lake: string): Promise<number> {
  let rows = 0;
  for (const file of await lakeFiles(join(lake, "ticker"), ".jsonl")) {
    const text = (await Deno.readTextFile(file)).trimEnd();
    if (text) rows += text.split("\n").length;
  }
  return rows;
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting: ${what}`);
    await sleep(100);
  }
}

/** A final `--until-idle` consumer must finish cleanly. */
async function finishUntilIdle(config: string): Promise<void> {
  const result = await cli(consumeArgs(config, "--until-idle"));
  assert.equal(result.code, 0, `the final --until-idle consumer failed:\n${result.stderr}`);
}

Deno.test("group faults: a stalled old owner (SIGSTOP past the session timeout, then SIGCONT) causes no loss and no duplicate", async () => {
  const N = 10_000;
  const brokers = testBrokers();
  const topic = uniqueName("stall");
  const { config, lake, dir } = await workspace(
    faultToml({ brokers, topic, group: uniqueName("group"), ratePerSecond: 1000 }),
  );
  const processes: CliProcess[] = [];
  try {
    const producer = new CliProcess("producer", produceArgs(config, N));
    processes.push(producer);
    const a = new CliProcess("A", consumeArgs(config));
    processes.push(a);
    await a.waitFor(FLUSHED, 30_000, 3);

    // A stops mid-stream, holding whatever it buffered since its last flush.
    a.signal("SIGSTOP");
    const flushesBeforeStall = a.count(FLUSHED);
    await sleep(3 * SESSION_MS);
    const b = new CliProcess("B", consumeArgs(config));
    processes.push(b);
    await b.waitFor(/partitions assigned .*partitions=0,1,2$/, 20_000);
    await b.waitFor(FLUSHED, 20_000, 3);
    assert.equal(a.count(FLUSHED), flushesBeforeStall, "A did nothing while stopped");

    // The zombie wakes up: its buffered rows may now be written late. It must notice that it
    // lost its membership and join again (a new assignment), or this tested nothing.
    const assignmentsBefore = a.count(/partitions assigned/);
    a.signal("SIGCONT");
    await a.waitFor(/partitions assigned/, 20_000, assignmentsBefore + 1);
    await sleep(3000);
    const [statusA, statusB] = await Promise.all([a.stop("SIGTERM"), b.stop("SIGTERM")]);
    console.log(`  ${describe(a, statusA)}`);
    console.log(`  ${describe(b, statusB)}`);
    if (statusA.code !== 0) console.log(`  A's last lines:\n${a.tail(15)}`);
    assert.equal(statusB.code, 0, `B stops cleanly:\n${b.tail()}`);
    assert.ok(
      statusA.code === 0 || statusA.code === 3,
      `A exits 0, or 3 on a fatal commit error, not ${statusA.code}:\n${a.tail()}`,
    );

    const produced = await producer.finished();
    assert.equal(produced.code, 0, producer.tail());
    await finishUntilIdle(config);
    const check = await assertExactlyOnce({ brokers, topic, store: lake });
    assert.equal(check.rows, N);
    console.log(
      `  survived: 1 stall of A (${3 * SESSION_MS} ms stopped, session ${SESSION_MS} ms), ` +
        `B's takeover and A's wake-up; ${check.rows} rows in ${check.files} files over ` +
        `${check.partitions} partitions exactly once`,
    );
  } finally {
    await disposeAll(processes);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("group faults: two consumers in one group, one leaving (SIGTERM) and rejoining, lose nothing and duplicate nothing", async () => {
  const N = 16_000;
  const brokers = testBrokers();
  const topic = uniqueName("rejoin");
  const { config, lake, dir } = await workspace(faultToml({
    brokers,
    topic,
    group: uniqueName("group"),
    ratePerSecond: 800,
    partitions: 4,
    format: "parquet",
  }));
  const processes: CliProcess[] = [];
  try {
    // The topic exists with 4 partitions before anyone subscribes.
    const producer = new CliProcess("producer", produceArgs(config, N));
    processes.push(producer);
    const members: Record<"one" | "two", CliProcess[]> = { one: [], two: [] };
    const start = (member: "one" | "two") => {
      const p = new CliProcess(`${member}#${members[member].length + 1}`, consumeArgs(config));
      members[member].push(p);
      processes.push(p);
      return p;
    };
    await start("one").waitFor(ASSIGNED, 30_000);
    await start("two").waitFor(ASSIGNED, 30_000);

    // CI default 4 (printed); CRYPTOPIPE_FAULT_REJOINS sets more for a longer soak.
    const rejoins = Number(Deno.env.get("CRYPTOPIPE_FAULT_REJOINS") ?? 4);
    console.log(`  ${rejoins} leaves and rejoins (CRYPTOPIPE_FAULT_REJOINS)`);
    let leaves = 0;
    for (let i = 0; i < rejoins; i++) {
      const member = i % 2 === 0 ? "one" : "two";
      await sleep(1000);
      const leaving = members[member].at(-1)!;
      const status = await leaving.stop("SIGTERM");
      console.log(`  ${describe(leaving, status)}`);
      assert.equal(status.code, 0, `${leaving.name} stops cleanly:\n${leaving.tail()}`);
      leaves++;
      await sleep(500);
      await start(member).waitFor(ASSIGNED, 30_000);
    }
    const produced = await producer.finished();
    assert.equal(produced.code, 0, producer.tail());
    for (const member of ["one", "two"] as const) {
      const last = members[member].at(-1)!;
      const status = await last.stop("SIGTERM");
      console.log(`  ${describe(last, status)}`);
      assert.equal(status.code, 0, `${last.name} stops cleanly:\n${last.tail()}`);
    }
    for (const member of ["one", "two"] as const) {
      const got = members[member].flatMap((p) => p.lines(ASSIGNED));
      assert.ok(got.length > 0, `member ${member} got partitions at some point`);
    }

    // Two last members, each until its partitions are committed to the end.
    const finals = [
      new CliProcess("final-1", consumeArgs(config, "--until-idle")),
      new CliProcess("final-2", consumeArgs(config, "--until-idle")),
    ];
    processes.push(...finals);
    for (const p of finals) {
      const status = await p.finished();
      assert.equal(status.code, 0, `${p.name}:\n${p.tail()}`);
    }
    const check = await assertExactlyOnce({ brokers, topic, store: lake });
    assert.equal(check.rows, N);
    assert.equal(check.partitions, 4);
    console.log(
      `  survived: ${leaves} leaves and rejoins of 2 members on 4 partitions; ${check.rows} rows ` +
        `in ${check.files} files exactly once`,
    );
  } finally {
    await disposeAll(processes);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("broker restart mid-run (kill -9 of the broker, restart on the same data and port): consumption resumes by itself", async () => {
  const N1 = 4000;
  const N2 = 4000;
  const kafkaDir = await Deno.makeTempDir({ prefix: "cryptopipe-test-broker-" });
  const port = freePort();
  const controllerPort = freePort();
  const say = (line: string) => console.log(`  ${line}`);
  let broker = await startBroker(kafkaDir, { port, controllerPort, heapMb: 512, log: say });
  const topic = uniqueName("bounce");
  // A restart on the same data takes 15-25 s here, not 5: the KRaft controller first waits out
  // the killed incarnation's broker session (broker.session.timeout.ms, 9 s by default). So the
  // retry budget is 300, 600, 1200, then 2000 ms per try: about 55 s in all.
  const { config, lake, dir } = await workspace(faultToml({
    brokers: broker.bootstrap,
    topic,
    group: uniqueName("group"),
    ratePerSecond: 100_000,
    retry: { retries: 30, initialMs: 300, maxMs: 2000 },
  }));
  const processes: CliProcess[] = [];
  try {
    const first = await cli(produceArgs(config, N1));
    assert.equal(first.code, 0, first.stderr);
    const consumer = new CliProcess("consumer", consumeArgs(config));
    processes.push(consumer);
    await consumer.waitFor(FLUSHED, 30_000);

    // Kill the broker while the consumer is busy, then bring it back on the same data and port.
    const killedAt = Date.now();
    await broker.stop("SIGKILL");
    const rowsAtKill = await lakeRows(lake);
    await sleep(1000);
    broker = await startBroker(kafkaDir, { port, controllerPort, heapMb: 512, log: say });
    const outageMs = Date.now() - killedAt;
    assert.ok(!consumer.exited, `the consumer survived the outage:\n${consumer.tail()}`);

    const second = await cli(produceArgs(config, N2));
    assert.equal(second.code, 0, second.stderr);
    await waitUntil(
      `the consumer writes all ${N1 + N2} rows (consumer exited: ${consumer.exited})`,
      async () => consumer.exited || await lakeRows(lake) >= N1 + N2,
      45_000,
    );
    assert.ok(!consumer.exited, `the consumer must still be running:\n${consumer.tail()}`);
    const status = await consumer.stop("SIGTERM");
    console.log(`  ${describe(consumer, status)}`);
    assert.equal(status.code, 0, consumer.tail());

    const check = await assertExactlyOnce({ brokers: broker.bootstrap, topic, store: lake });
    assert.equal(check.rows, N1 + N2);
    console.log(
      `  survived: 1 broker kill -9 and restart (${outageMs} ms down; ${rowsAtKill} rows in the ` +
        `lake at the kill) in one consumer process; ${check.rows} rows in ${check.files} files ` +
        `exactly once`,
    );
  } finally {
    await disposeAll(processes);
    await broker.stop("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(kafkaDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("produce against a frozen broker (SIGSTOP): SIGTERM still ends it within produce.shutdown_timeout_secs plus the capped disconnect, exit 3 naming the key", async () => {
  const kafkaDir = await Deno.makeTempDir({ prefix: "cryptopipe-test-broker-" });
  const broker = await startBroker(kafkaDir, { heapMb: 512, log: () => {} });
  const { config } = await workspace(
    `
[bus]
brokers = ["${broker.bootstrap}"]
topic = "${uniqueName("frozen")}"

[sources.sim]
type = "simulated"
rate_per_second = 5000

[produce]
shutdown_timeout_secs = 3
`,
  );
  const producer = new CliProcess("producer", ["--mode", "produce", "--config", config]);
  try {
    await producer.waitFor(/producing/, 30_000);
    await sleep(500);
    Deno.kill(broker.pid, "SIGSTOP");
    await sleep(300);
    const signalled = Date.now();
    const status = await producer.stop("SIGTERM", 30_000);
    const took = Date.now() - signalled;
    assert.equal(status.code, 3, producer.stderr);
    assert.match(
      producer.stderr,
      /error: Kafka did not take the last batch within produce\.shutdown_timeout_secs = 3/,
    );
    assert.ok(took < 16_000, `stopped in ${took} ms (3 s deadline + at most 2 × 5 s disconnect)`);
  } finally {
    await producer.dispose();
    Deno.kill(broker.pid, "SIGCONT");
    await broker.stop();
    await Deno.remove(kafkaDir, { recursive: true }).catch(() => {});
  }
});
