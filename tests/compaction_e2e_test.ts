/**
 * Compaction end to end, on a lake written by the real consume mode with small rotation limits
 * (many small files, two hours): `catalog --compact` leaves one file per (hour, Kafka
 * partition) with the same rows, exactly once, checked against the topic with kcat (the
 * independent reader) and DuckDB. Then the group is reset to the earliest offset and the whole
 * topic consumed again: the lake does not change. A late record for a compacted hour lands as
 * a small file, and a second compaction folds it into the hour's file without duplicates.
 * Run on the local folder and on S3 (moto_server over HTTP).
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { createEncoder, type Row } from "../src/encode/mod.ts";
import { FileStore } from "../src/store/file.ts";
import type { Store } from "../src/store/mod.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  kcatDump,
  kcatProduce,
  queryLake,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce } from "./oracle.ts";

const K = 1500;
const SHIFTED = 300;
const HOUR_MS = 3_600_000;

/** Every key of the lake with its size and a digest of its bytes. */
async function snapshot(store: Store): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const key of [...await store.list("ticker"), ...await store.list("ticker_errors")]) {
    const bytes = await store.read(key);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
    result.set(key, `${bytes.byteLength}:${[...digest.slice(0, 8)].join(".")}`);
  }
  return result;
}

/** A copy of a message into its own partition (kcat would pick the partition itself). */
async function republish(
  topic: string,
  message: { partition: number; key: string; payload: string },
) {
  const kafka = new Kafka({ brokers: testBrokers().split(","), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: [{ partition: message.partition, key: message.key, value: message.payload }],
    });
  } finally {
    await producer.disconnect();
  }
}

async function resetGroupToEarliest(topic: string, group: string): Promise<void> {
  const kafka = new Kafka({ brokers: testBrokers().split(","), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.resetOffsets({ groupId: group, topic, earliest: true });
  } finally {
    await admin.disconnect();
  }
}

function assertSorted(key: string, rows: Row[]): void {
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1];
    const b = rows[i];
    const inOrder = (a.symbol as string) < (b.symbol as string) ||
      (a.symbol === b.symbol && (a.event_time as number) <= (b.event_time as number));
    assert.ok(inOrder, `${key}: rows ${i - 1} and ${i} are not sorted by symbol, event_time`);
  }
}

async function scenario(kind: "local" | "s3"): Promise<void> {
  const topic = uniqueName("compact");
  const group = uniqueName("group");
  let storeToml = "";
  let env: Record<string, string> = {};
  let bucket = "";
  if (kind === "s3") {
    bucket = await freshBucket();
    storeToml = `type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${testS3Endpoint()}"
force_path_style = true
`;
    env = AWS_TEST_ENV;
  }
  const { config, lake } = await workspace(
    baseToml(
      topic,
      group,
      `${storeToml}
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
rate_per_second = 3000

[encode]
format = "parquet"

[batch]
max_records = 40
until_idle_secs = 1.5

[query]
max_rows = 100000
`,
    ),
  );
  const store: Store = kind === "s3" ? testS3Store(bucket, "lake") : new FileStore(lake);
  const run = async (args: string[]) => {
    const result = await cli(["--config", config, ...args], env);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result;
  };

  await run(["--mode", "produce", "--max-records", String(K)]);
  // A second, older hour: copies of records moved two hours back (new offsets, valid records).
  const older = (await kcatDump(testBrokers(), topic)).slice(0, SHIFTED).map((m) => {
    const record = JSON.parse(m.payload);
    record.event_time -= 2 * HOUR_MS;
    record.ingest_time -= 2 * HOUR_MS;
    return `${m.key}\t${JSON.stringify(record)}`;
  });
  await kcatProduce(testBrokers(), topic, older);
  await run(["--mode", "consume", "--until-idle"]);

  const small = await store.list("ticker");
  const before = await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  assert.equal(before.rows, K + SHIFTED);
  assert.ok(small.length >= 30, `consume wrote many small files (${small.length})`);

  // --dry-run reports what would be compacted and changes nothing.
  const dry = await run(["--mode", "catalog", "--compact", "--before", "9999-12-31", "--dry-run"]);
  assert.match(dry.stdout, /would compact \d+ \(hour, partition\) group\(s\): [\d,]+ files/);
  assert.deepEqual(await store.list("ticker"), small);
  // Hours that end after --before are left alone.
  const none = await run(["--mode", "catalog", "--compact", "--before", "2020-01-01"]);
  assert.match(none.stdout, /compacted 0 \(hour, partition\) group/);
  assert.deepEqual(await store.list("ticker"), small);

  const compacted = await run(["--mode", "catalog", "--compact", "--before", "9999-12-31"]);
  console.log(`${kind}: ${compacted.stdout.trim()}`);
  assert.match(compacted.stdout, /compacted \d+ \(hour, partition\) group\(s\): [\d,]+ files/);

  const after = await store.list("ticker");
  const folders = new Set(after.map((k) => k.slice(0, k.lastIndexOf("/"))));
  assert.ok(folders.size >= 2, "two hours at least");
  // One file per (hour, Kafka partition), named by the range it covers.
  assert.ok(after.length <= folders.size * 3, `few files after: ${after.join(", ")}`);
  for (const key of after) assert.match(key, /\+\d+\+\d{20}-\d{20}\.parquet$/);
  assert.ok(after.length < small.length / 5, `${small.length} → ${after.length} files`);
  const check = await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  assert.equal(check.rows, K + SHIFTED);
  const parquet = createEncoder("parquet");
  for (const key of after) {
    const bytes = await store.read(key);
    assertSorted(key, await parquet.decode(bytes));
    // The offsets stay in the footer (and the S3 metadata): discovery and reruns read them.
    const coverage = parquet.coverage(bytes);
    const [, first, last] = /\+(\d{20})-(\d{20})\.parquet$/.exec(key)!.map(Number);
    assert.deepEqual([coverage.firstOffset, coverage.lastOffset], [first, last]);
    if (kind === "s3") {
      const metadata = await store.metadata(key);
      assert.equal(Number(metadata?.["last-offset"]), last);
    }
  }
  if (kind === "local") {
    // DuckDB, a second independent reader: same count, no (partition, offset) twice.
    await run(["--mode", "catalog"]);
    const [row] = await queryLake(
      config,
      "SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d FROM ticker",
    );
    assert.deepEqual([Number(row.n), Number(row.d)], [K + SHIFTED, K + SHIFTED]);
  }

  // A replay of the whole topic (reset to earliest) writes nothing: every row is covered.
  const lakeBefore = await snapshot(store);
  await resetGroupToEarliest(topic, group);
  const replay = await run(["--mode", "consume", "--until-idle"]);
  assert.match(replay.stderr, /compacted file already in the lake/);
  assert.deepEqual(await snapshot(store), lakeBefore, "the replay changed the lake");

  // A late record for a compacted hour: a new offset, a small file next to the hour's file of
  // its partition (a copy of a record that is in that file, so same hour and partition).
  const [late] = (await kcatDump(testBrokers(), topic)).slice(-1);
  await republish(topic, late);
  await run(["--mode", "consume", "--until-idle"]);
  const withLate = await store.list("ticker");
  assert.equal(withLate.length, after.length + 1, "the late record is one new small file");
  await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  // The next compaction folds it in: the hour again holds one file per partition.
  const again = await run(["--mode", "catalog", "--compact", "--before", "9999-12-31"]);
  assert.match(again.stdout, /compacted 1 \(hour, partition\) group\(s\): 2 files/);
  assert.equal((await store.list("ticker")).length, after.length);
  const final = await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  assert.equal(final.rows, K + SHIFTED + 1);
}

Deno.test("compaction e2e (local lake): many small files → one per (hour, partition), same rows exactly once; a reset replay changes nothing; a late record is folded in later", async () => {
  await scenario("local");
});

Deno.test("compaction e2e (s3 via moto): the same on S3, with deletes and object metadata", async () => {
  await scenario("s3");
});

Deno.test("compaction usage errors: a bad --before, --before without --compact, a JSON-lines lake (exit 2, one line)", async () => {
  const { config } = await workspace(baseToml(uniqueName("t"), uniqueName("g"), ""));
  const jsonl = await workspace(
    baseToml(uniqueName("t"), uniqueName("g"), '[encode]\nformat = "jsonl"\n'),
  );
  const cases: Array<[string[], RegExp]> = [
    [["--config", config, "--compact", "--before", "2026-02-30"], /Invalid --before "2026-02-30"/],
    [
      ["--config", config, "--before", "2026-11-20"],
      /--before applies to --mode catalog --compact/,
    ],
    [["--config", jsonl.config, "--compact"], /Parquet tables only.*encode.format = "jsonl"/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(["--mode", "catalog", ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  const wrongMode = await cli(["--mode", "consume", "--config", config, "--compact"]);
  assert.equal(wrongMode.code, 2);
  assert.match(wrongMode.stderr, /--compact applies to --mode catalog only/);
});

Deno.test("--expire and --compact exclude each other on a local lake (flock on <lake>/.maintenance.lock; exit 3 while held, released on exit)", async () => {
  const { config, lake } = await workspace(
    baseToml(
      uniqueName("t"),
      uniqueName("g"),
      'retention_days = 30\n[encode]\nformat = "parquet"\n',
    ),
  );
  await Deno.mkdir(lake, { recursive: true });
  // This test process plays the other maintenance run: it holds the lock.
  const held = await Deno.open(`${lake}/.maintenance.lock`, { write: true, create: true });
  assert.equal(await held.tryLock(true), true);
  try {
    for (const flag of ["--expire", "--compact"]) {
      const result = await cli(["--mode", "catalog", "--config", config, flag]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /another catalog --expire or --compact is running on this lake/);
    }
  } finally {
    held.close();
  }
  const expire = await cli(["--mode", "catalog", "--config", config, "--expire"]);
  assert.equal(expire.code, 0, expire.stderr);
  // The finished run released it.
  const again = await Deno.open(`${lake}/.maintenance.lock`, { write: true });
  try {
    assert.equal(await again.tryLock(true), true);
  } finally {
    again.close();
  }
});
