/**
 * Reprocessing and retention against the real broker (issue 9): consume --reset-offsets
 * (dry run, refusal while the group has a live member, earliest / latest / a Kafka time /
 * per-partition offsets, exactly once after a reset to earliest), consume --reread (an offset
 * range and a time range into another table, equal to what kcat reads, committed offsets
 * untouched), and catalog --expire on a local lake. kcat and Kafka's own
 * kafka-consumer-groups tool are the independent readers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureJars } from "../scripts/local_kafka.ts";
import { createBus } from "../src/bus/mod.ts";
import { loadConfig } from "../src/config/mod.ts";
import { silentLogger } from "../src/log.ts";
import { sampleTicker } from "../src/record/testing.ts";
import { FileStore } from "../src/store/file.ts";
import {
  cli,
  kcatDump,
  kcatProduce,
  lakeFiles,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce, readTable } from "./oracle.ts";
import { CliProcess, sleep } from "./processes.ts";

/** Enough keys that every partition of a 3-partition topic gets records (as in group_faults). */
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

function reprocessToml(topic: string, group: string, extra = ""): string {
  return `
[bus]
brokers = ["${testBrokers()}"]
topic = "${topic}"
group_id = "${group}"
session_timeout_ms = 6000
topic_partitions = 3

[bus.retry]
retries = 3

[sources.sim]
type = "simulated"
symbols = ${JSON.stringify(SYMBOLS)}
rate_per_second = 5000

[encode]
format = "jsonl"

[batch]
max_records = 40
until_idle_secs = 1

[store]
path = "{lake}"
${extra}`;
}

async function run(config: string, ...args: string[]) {
  const result = await cli(["--config", config, "--log-level", "warn", ...args]);
  return result;
}

async function ok(config: string, ...args: string[]): Promise<string> {
  const result = await run(config, ...args);
  assert.equal(result.code, 0, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
  return result.stdout;
}

const produce = (config: string, records: number) =>
  ok(config, "--mode", "produce", "--max-records", String(records));

/** Log end per partition, from kcat. */
async function logEnds(topic: string): Promise<Map<number, number>> {
  const ends = new Map<number, number>([[0, 0], [1, 0], [2, 0]]);
  for (const m of await kcatDump(testBrokers(), topic)) {
    ends.set(m.partition, Math.max(ends.get(m.partition) ?? 0, m.offset + 1));
  }
  return ends;
}

/** The group's committed offsets through the admin API. */
async function committed(config: string): Promise<Map<number, number>> {
  const bus = createBus(loadConfig(config), silentLogger);
  try {
    const c = loadConfig(config);
    return await bus.committedOffsets(c.bus.group_id, c.bus.topic);
  } finally {
    await bus.close();
  }
}

/** Kafka's own kafka-consumer-groups tool (a JVM per call: slow, use sparingly). */
async function kafkaGroupsTool(...args: string[]): Promise<string> {
  const lib = await ensureJars(() => {});
  const out = await new Deno.Command("java", {
    args: [
      "-cp",
      `${lib}/*`,
      "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
      "--bootstrap-server",
      testBrokers(),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `kafka-consumer-groups failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Committed offsets as kafka-consumer-groups reports them. */
async function committedByKafkaTool(group: string, topic: string): Promise<Map<number, number>> {
  const text = await kafkaGroupsTool("--describe", "--group", group);
  const result = new Map<number, number>();
  for (const line of text.split("\n")) {
    const cells = line.trim().split(/\s+/);
    if (cells[0] === group && cells[1] === topic) result.set(Number(cells[2]), Number(cells[3]));
  }
  return result;
}

interface PlanRow {
  partition: number;
  committed: number | undefined;
  next: number;
  start: number;
  end: number;
  lagBefore: number;
  lagAfter: number;
}

/** The rows of a printed reset plan. */
function planRows(stdout: string): PlanRow[] {
  const lines = stdout.trimEnd().split("\n");
  const header = lines.findIndex((l) => l.startsWith("partition"));
  assert.ok(header >= 0, `no plan table in:\n${stdout}`);
  return lines.slice(header + 1).map((line) => {
    const [p, c, n, s, e, lb, la] = line.trim().split(/\s+/);
    return {
      partition: Number(p),
      committed: c === "none" ? undefined : Number(c),
      next: Number(n),
      start: Number(s),
      end: Number(e),
      lagBefore: Number(lb),
      lagAfter: Number(la),
    };
  });
}

Deno.test("reprocess: reset --dry-run prints committed, new offset, log end and lag, and changes nothing", async () => {
  const topic = uniqueName("reset-dry");
  const { config } = await workspace(reprocessToml(topic, uniqueName("g")));
  await produce(config, 240);
  await ok(config, "--mode", "consume", "--until-idle");
  const consumedTo = await logEnds(topic);
  await produce(config, 90); // lag for the group
  const ends = await logEnds(topic);
  const before = await committed(config);
  assert.deepEqual(before, consumedTo, "consume committed every partition to its end");

  const earliest = await ok(
    config,
    "--mode",
    "consume",
    "--reset-offsets",
    "earliest",
    "--dry-run",
  );
  assert.match(earliest, /reset to earliest \(dry run: nothing changed\)/);
  const rows = planRows(earliest);
  assert.deepEqual(rows.map((r) => r.partition), [0, 1, 2]);
  for (const row of rows) {
    const end = ends.get(row.partition)!;
    assert.deepEqual(row, {
      partition: row.partition,
      committed: consumedTo.get(row.partition),
      next: 0,
      start: 0,
      end,
      lagBefore: end - consumedTo.get(row.partition)!,
      lagAfter: end,
    });
  }
  const latest = planRows(
    await ok(config, "--mode", "consume", "--reset-offsets", "latest", "--dry-run"),
  );
  assert.deepEqual(latest.map((r) => [r.next, r.lagAfter]), [...ends.values()].map((e) => [e, 0]));
  // Per-partition offsets: only the named partitions are in the plan.
  const some = planRows(
    await ok(config, "--mode", "consume", "--reset-offsets", "0:5,2:7", "--dry-run"),
  );
  assert.deepEqual(some.map((r) => [r.partition, r.next, r.lagAfter]), [
    [0, 5, ends.get(0)! - 5],
    [2, 7, ends.get(2)! - 7],
  ]);
  // --partition narrows earliest/latest/time to some partitions.
  const one = planRows(
    await ok(
      config,
      "--mode",
      "consume",
      "--reset-offsets",
      "earliest",
      "--partition",
      "1",
      "--dry-run",
    ),
  );
  assert.deepEqual(one.map((r) => r.partition), [1]);
  assert.deepEqual(await committed(config), before, "a dry run commits nothing");

  // An offset beyond the log end is refused before anything is changed.
  const beyond = await run(
    config,
    "--mode",
    "consume",
    "--reset-offsets",
    `1:${ends.get(1)! + 1}`,
  );
  assert.equal(beyond.code, 2, beyond.stderr);
  assert.match(
    beyond.stderr,
    new RegExp(
      `offset ${ends.get(1)! + 1} of partition 1 is outside its log: offsets 0 to ${
        ends.get(1)! - 1
      }`,
    ),
  );
  const unknown = await run(config, "--mode", "consume", "--reset-offsets", "7:0");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /topic .* has no partition 7 \(it has 0, 1, 2\)/);
  assert.deepEqual(await committed(config), before);
});

Deno.test("reprocess: reset is refused while a consume runs (exit 3, names the members); after it stops, reset to earliest and re-consume keeps the lake exactly once", async () => {
  const topic = uniqueName("reset-live");
  const group = uniqueName("g");
  const { config, lake } = await workspace(reprocessToml(topic, group));
  await produce(config, 300);
  await ok(config, "--mode", "consume", "--until-idle");
  const first = await assertExactlyOnce({ brokers: testBrokers(), topic, store: lake });
  const filesBefore = await lakeFiles(join(lake, "ticker"));

  const consumer = new CliProcess("consume", [
    "--mode",
    "consume",
    "--config",
    config,
    "--log-level",
    "info",
  ]);
  try {
    await consumer.waitFor(/partitions assigned .*partitions=\d/, 30_000);
    const refused = await run(config, "--mode", "consume", "--reset-offsets", "earliest");
    assert.equal(refused.code, 3, refused.stderr);
    const lines = refused.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(
      lines[0],
      new RegExp(`^error: Cannot reset offsets of group ${group}: it has 1 live member\\(s\\)`),
    );
    assert.match(lines[0], /Stop every consume of this group first/);
    const dry = await ok(config, "--mode", "consume", "--reset-offsets", "earliest", "--dry-run");
    assert.match(dry, /1 live member\(s\), so a real run would be refused/);
    assert.equal((await consumer.stop()).code, 0, consumer.tail());
  } finally {
    await consumer.dispose();
  }

  const applied = await ok(config, "--mode", "consume", "--reset-offsets", "earliest");
  assert.match(applied, /\(applied\)/);
  // Kafka's own tool, not our admin client, confirms the new offsets.
  assert.deepEqual(await committedByKafkaTool(group, topic), new Map([[0, 0], [1, 0], [2, 0]]));

  // Re-consume everything: the files already in the lake are met by name and skipped.
  const again = await cli([
    "--mode",
    "consume",
    "--config",
    config,
    "--until-idle",
    "--log-level",
    "info",
  ]);
  assert.equal(again.code, 0, again.stderr);
  const summary = /consume finished .*rows=(\d+).*files=(\d+).*skipped_existing=(\d+)/.exec(
    again.stderr,
  );
  assert.ok(summary, again.stderr);
  assert.equal(Number(summary[3]), 300, "every re-read row was recognised as already written");
  assert.equal(Number(summary[2]), 0, "no new file");
  const second = await assertExactlyOnce({ brokers: testBrokers(), topic, store: lake });
  assert.equal(second.rows, 300);
  assert.equal(first.rows, 300);
  assert.deepEqual(await lakeFiles(join(lake, "ticker")), filesBefore);
  assert.deepEqual(await committed(config), await logEnds(topic), "caught up again");
});

Deno.test("reprocess: reset to latest, to a Kafka time and to per-partition offsets is applied", async () => {
  const topic = uniqueName("reset-apply");
  const { config } = await workspace(reprocessToml(topic, uniqueName("g")));
  await produce(config, 150);
  await sleep(1100);
  const cut = Date.now();
  await sleep(1100);
  await produce(config, 150);
  const dump = await kcatDump(testBrokers(), topic);
  const ends = await logEnds(topic);

  await ok(config, "--mode", "consume", "--reset-offsets", "latest");
  assert.deepEqual(await committed(config), ends);

  const atTime = new Date(cut).toISOString();
  const timed = await ok(config, "--mode", "consume", "--reset-offsets", atTime);
  assert.match(timed, new RegExp(`first offset at or after Kafka time ${atTime}`));
  const expected = new Map<number, number>();
  for (const partition of [0, 1, 2]) {
    const after = dump.filter((m) => m.partition === partition && m.timestamp >= cut);
    expected.set(
      partition,
      after.length ? Math.min(...after.map((m) => m.offset)) : ends.get(partition)!,
    );
  }
  assert.ok([...expected.values()].some((o) => o > 0), "the cut lies inside the data");
  assert.deepEqual(await committed(config), expected);

  await ok(config, "--mode", "consume", "--reset-offsets", "0:3,2:9");
  assert.deepEqual(
    await committed(config),
    new Map([[0, 3], [1, expected.get(1)!], [2, 9]]),
    "partition 1, not named, kept its offset",
  );
});

/** Rows of a lake table (local, jsonl) as partition:offset → the row. */
async function tableRows(lake: string, table: string) {
  const rows = new Map<string, Record<string, unknown>>();
  for (const file of await readTable(new FileStore(lake), table)) {
    for (const row of file.rows) {
      const id = `${row._kafka_partition}:${row._kafka_offset}`;
      assert.ok(!rows.has(id), `${id} twice in ${table}`);
      rows.set(id, row);
    }
  }
  return rows;
}

Deno.test("reprocess: --reread of an offset range and of a time range writes exactly those records to another table; committed offsets unchanged", async () => {
  const topic = uniqueName("reread");
  const group = uniqueName("g");
  const { config, lake } = await workspace(reprocessToml(topic, group));
  await produce(config, 120);
  await sleep(1100);
  const from = Date.now();
  await sleep(1100);
  await produce(config, 120);
  await sleep(1100);
  const to = Date.now();
  await sleep(1100);
  await produce(config, 120);
  await ok(config, "--mode", "consume", "--until-idle");
  const before = await committed(config);
  const liveFiles = await lakeFiles(join(lake, "ticker"));
  const dump = await kcatDump(testBrokers(), topic);

  // Offsets 10 to 40 of partition 1 (inclusive).
  const out = await ok(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "1",
    "--from-offset",
    "10",
    "--to-offset",
    "40",
    "--into-table",
    "fix_offsets",
  );
  assert.match(out, /partition 1: offsets 10 to 40/);
  assert.match(out, /rows 31, error rows 0/);
  const byOffset = await tableRows(lake, "fix_offsets");
  const wanted = dump.filter((m) => m.partition === 1 && m.offset >= 10 && m.offset <= 40);
  assert.deepEqual([...byOffset.keys()].sort(), wanted.map((m) => `1:${m.offset}`).sort());
  for (const m of wanted) {
    const row = byOffset.get(`1:${m.offset}`)!;
    const sent = JSON.parse(m.payload);
    assert.equal(row.price, sent.price);
    assert.equal(row.symbol, sent.symbol);
    assert.equal(row._kafka_timestamp, m.timestamp);
  }
  // The same re-read again writes nothing new: the files are write-once by name.
  const filesOnce = await lakeFiles(join(lake, "fix_offsets"));
  const twice = await ok(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "1",
    "--from-offset",
    "10",
    "--to-offset",
    "40",
    "--into-table",
    "fix_offsets",
  );
  assert.match(twice, /files 0, rows already in the table 31/);
  assert.deepEqual(await lakeFiles(join(lake, "fix_offsets")), filesOnce);
  // An overlapping range into the same table adds only the offsets it does not hold yet.
  const overlap = await ok(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "1",
    "--from-offset",
    "30",
    "--to-offset",
    "60",
    "--into-table",
    "fix_offsets",
  );
  assert.match(overlap, /rows 20, error rows 0, files \d+, rows already in the table 11/);
  assert.deepEqual(
    [...(await tableRows(lake, "fix_offsets")).keys()].sort(),
    dump.filter((m) => m.partition === 1 && m.offset >= 10 && m.offset <= 60)
      .map((m) => `1:${m.offset}`).sort(),
    "offsets 10 to 60, each once",
  );

  // A window of Kafka (produce) times: the middle batch, over every partition.
  const window = await ok(
    config,
    "--mode",
    "consume",
    "--reread",
    "--from-time",
    new Date(from).toISOString(),
    "--to-time",
    new Date(to).toISOString(),
    "--into-table",
    "fix_window",
  );
  const inWindow = dump.filter((m) => m.timestamp >= from && m.timestamp < to);
  assert.equal(inWindow.length, 120);
  assert.match(window, /rows 120, error rows 0/);
  const byTime = await tableRows(lake, "fix_window");
  assert.deepEqual(
    [...byTime.keys()].sort(),
    inWindow.map((m) => `${m.partition}:${m.offset}`).sort(),
  );

  assert.deepEqual(await committed(config), before, "the group's offsets are untouched");
  const groups = (await kafkaGroupsTool("--list")).split("\n").map((l) => l.trim());
  assert.deepEqual(
    groups.filter((g) => g.startsWith(`${group}.reread-`)),
    [],
    "the throwaway groups of the re-reads are deleted",
  );
  assert.deepEqual(await lakeFiles(join(lake, "ticker")), liveFiles, "the live table is untouched");

  const live = await run(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "0",
    "--from-offset",
    "0",
    "--to-offset",
    "1",
    "--into-table",
    "ticker",
  );
  assert.equal(live.code, 2);
  assert.match(live.stderr, /is a live table/);
  const outside = await run(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "0",
    "--from-offset",
    "0",
    "--to-offset",
    "100000",
    "--into-table",
    "fix_outside",
  );
  assert.equal(outside.code, 2, outside.stderr);
  assert.match(outside.stderr, /Invalid range 0 to 100000 of partition 0: offsets 0 to \d+/);
});

Deno.test("reprocess: --reread of a range larger than one fetch (over 2 MiB of one partition) writes each offset once and finishes", async () => {
  const topic = uniqueName("reread-big");
  const group = uniqueName("g");
  const { config, lake } = await workspace(reprocessToml(topic, group));
  await produce(config, 36_000);
  const dump = await kcatDump(testBrokers(), topic);
  const partition0 = dump.filter((m) => m.partition === 0);
  const bytes = partition0.reduce((sum, m) => sum + m.payload.length, 0);
  assert.ok(bytes > 3 * 1024 * 1024, `partition 0 holds ${bytes} bytes: more than one fetch`);
  const last = Math.max(...partition0.map((m) => m.offset));
  const out = await ok(
    config,
    "--mode",
    "consume",
    "--reread",
    "--partition",
    "0",
    "--from-offset",
    "0",
    "--to-offset",
    String(last),
    "--into-table",
    "fix_big",
  );
  assert.match(out, new RegExp(`rows ${partition0.length}, error rows 0`));
  // tableRows fails on any (partition, offset) written twice.
  const rows = await tableRows(lake, "fix_big");
  assert.equal(rows.size, partition0.length);
});

Deno.test("reprocess: catalog --expire deletes dt partitions older than store.retention_days by their date; --dry-run lists them", async () => {
  const topic = uniqueName("retention");
  const { config, lake } = await workspace(
    reprocessToml(topic, uniqueName("g"), "retention_days = 30\n"),
  );
  const day = 86_400_000;
  const now = Date.now();
  // Event times 90, 45, 29 and 0 days back; a poison message lands in the errors table by its
  // Kafka time (now), so that table keeps its partition.
  const ages = [90, 45, 29, 0];
  const lines = ages.flatMap((age, i) =>
    [0, 1].map((n) =>
      `k${i}${n}\t${
        JSON.stringify(sampleTicker({ event_time: now - age * day, ingest_time: now }))
      }`
    )
  );
  await kcatProduce(testBrokers(), topic, [...lines, "bad\tnot json"]);
  await ok(config, "--mode", "consume", "--until-idle");
  const dts = (await Array.fromAsync(Deno.readDir(join(lake, "ticker")))).map((e) => e.name)
    .sort();
  const dtOf = (age: number) => `dt=${new Date(now - age * day).toISOString().slice(0, 10)}`;
  assert.deepEqual(dts, ages.map(dtOf).sort());

  const dry = await ok(config, "--mode", "catalog", "--expire", "--dry-run");
  assert.match(dry, /that would be deleted \(dry run: nothing changed\): 2/);
  assert.match(dry, new RegExp(`ticker/${dtOf(90)}  \\(\\d+ file\\(s\\)\\)`));
  assert.match(dry, new RegExp(`ticker/${dtOf(45)}`));
  assert.doesNotMatch(dry, new RegExp(dtOf(29)));
  assert.equal((await lakeFiles(join(lake, "ticker"))).length > 0, true);
  assert.equal(
    (await Array.fromAsync(Deno.readDir(join(lake, "ticker")))).length,
    4,
    "dry run deleted nothing",
  );

  const done = await ok(config, "--mode", "catalog", "--expire");
  assert.match(done, /deleted: 2/);
  const left = (await Array.fromAsync(Deno.readDir(join(lake, "ticker")))).map((e) => e.name)
    .sort();
  assert.deepEqual(left, [dtOf(29), dtOf(0)].sort());
  assert.equal((await lakeFiles(join(lake, "ticker_errors"))).length, 1, "errors table kept");
  // The rows that are left are the ones of the kept days; queries still work.
  const rows = (await readTable(new FileStore(lake), "ticker")).flatMap((f) => f.rows);
  assert.equal(rows.length, 4);
  assert.ok(rows.every((r) => (r.event_time as number) > now - 30 * day));
  // Nothing parked is left behind in the lake's temp folder.
  const parked = await Array.fromAsync(Deno.readDir(join(lake, ".tmp"))).catch(() => []);
  assert.deepEqual(parked.filter((e) => e.name.startsWith("expired-")), []);
  // A second run has nothing to do.
  assert.match(await ok(config, "--mode", "catalog", "--expire"), /deleted: 0/);
});

Deno.test("reprocess: bad reprocessing flags and retention config give exit 2 with one clear line", async () => {
  const { config } = await workspace(reprocessToml("unused-topic", "unused-group"));
  const { config: s3Config } = await workspace(
    `[store]\ntype = "s3"\nbucket = "lake-bucket"\nretention_days = 30\n`,
  );
  const cases: Array<[string, string[], RegExp]> = [
    [config, ["--mode", "consume", "--dry-run"], /--dry-run only with --reset-offsets/],
    [
      config,
      [
        "--mode",
        "consume",
        "--reread",
        "--partition",
        "0",
        "--from-offset",
        "0",
        "--to-offset",
        "1",
      ]
        .concat(["--into-table", "fix_dedup"]),
      /Invalid --into-table fix_dedup: must not end in _dedup/,
    ],
    [
      config,
      ["--mode", "consume", "--reset-offsets", "yesterday"],
      /Invalid --reset-offsets "yesterday": expected earliest, latest/,
    ],
    [
      config,
      ["--mode", "consume", "--reset-offsets", "2026-11-24T10:00:00"],
      /Invalid --reset-offsets .*with a zone/,
    ],
    [config, ["--mode", "consume", "--reset-offsets", "earliest", "--reread"], /separate runs/],
    [config, ["--mode", "consume", "--from-offset", "3"], /--from-offset goes with --reread only/],
    [
      config,
      ["--mode", "consume", "--reread", "--partition", "0", "--from-offset", "5"],
      /exactly one --partition P, --from-offset A and --to-offset B/,
    ],
    [config, [
      "--mode",
      "consume",
      "--reread",
      "--partition",
      "0",
      "--from-offset",
      "9",
      "--to-offset",
      "3",
      "--into-table",
      "x",
    ], /--to-offset 3: it is before --from-offset 9/],
    [config, [
      "--mode",
      "consume",
      "--reread",
      "--from-time",
      "2026-11-24T10:00:00",
      "--to-time",
      "2026-11-24T11:00:00Z",
      "--into-table",
      "x",
    ], /Invalid --from-time .*with a zone/],
    [config, [
      "--mode",
      "consume",
      "--reread",
      "--partition",
      "0",
      "--from-offset",
      "0",
      "--to-offset",
      "3",
    ], /needs --into-table NAME/],
    [config, [
      "--mode",
      "consume",
      "--reread",
      "--partition",
      "0",
      "--from-offset",
      "0",
      "--to-offset",
      "3",
      "--into-table",
      "Bad-Name",
    ], /Invalid --into-table "Bad-Name"/],
    [config, ["--mode", "catalog", "--expire"], /catalog --expire needs store.retention_days/],
    [
      s3Config,
      ["--mode", "catalog", "--expire"],
      /local lake partitions only; on S3 .* deploy\/s3\/lifecycle.json/,
    ],
    [
      config,
      ["--mode", "produce", "--reset-offsets", "earliest"],
      /--reset-offsets applies to --mode consume only/,
    ],
  ];
  for (const [file, args, error] of cases) {
    const result = await run(file, ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], error);
  }
});
