/**
 * A reset that lands inside a lake file, end to end on the real broker: consume writes many
 * small files, the group is reset to a mid-file offset (p:o) on one partition and to a Kafka
 * time that falls inside a file on another, and consume reads again. Those rows are then in
 * the lake twice for a plain reader (the dedup view shows each offset once). A compaction
 * between the reset and the re-read must not fail (the file across the committed offset waits),
 * and the compaction after it heals the lake: a plain read and kcat agree, each (partition,
 * offset) exactly once.
 */
import assert from "node:assert/strict";
import { coverageOf, createEncoder } from "../src/encode/mod.ts";
import { LAKE_COLUMNS } from "../src/record/mod.ts";
import { fileName } from "../src/store/mod.ts";
import { FileStore } from "../src/store/file.ts";
import {
  baseToml,
  cli,
  kcatDump,
  queryLake,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { assertExactlyOnce } from "./oracle.ts";

const K = 900;

Deno.test("reset inside a file (p:offset and a time): the re-read duplicates rows, compaction does not fail and heals the lake to exactly once", async () => {
  const topic = uniqueName("resetcompact");
  const group = uniqueName("group");
  const { config, lake } = await workspace(baseToml(
    topic,
    group,
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD"]
rate_per_second = 3000

[encode]
format = "parquet"

[batch]
max_records = 40
until_idle_secs = 1.5

[query]
max_rows = 100000
`,
  ));
  const store = new FileStore(lake);
  const run = async (...args: string[]) => {
    const result = await cli(["--config", config, ...args]);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result;
  };
  const counts = async () => {
    await run("--mode", "catalog");
    const sql = (table: string) =>
      `SELECT count(*) AS n, count(DISTINCT (_kafka_partition, _kafka_offset)) AS d FROM ${table}`;
    const [plain] = await queryLake(config, sql("ticker"));
    const [dedup] = await queryLake(config, sql("ticker_dedup"));
    return { plain: Number(plain.n), distinct: Number(plain.d), dedup: Number(dedup.n) };
  };

  // Three rounds, apart in time: a partition then has records whose Kafka time is later than
  // their predecessor's inside a file (one fast round may share one timestamp throughout).
  // Uneven rounds, so that no round starts exactly on a file boundary (files hold 40 rows).
  for (const [round, records] of [301, 302, K - 603].entries()) {
    if (round > 0) await new Promise((r) => setTimeout(r, 200));
    await run("--mode", "produce", "--max-records", String(records));
  }
  await run("--mode", "consume", "--until-idle");
  await assertExactlyOnce({ brokers: testBrokers(), topic, store });

  // Files by partition, each with its offsets in order.
  const parquet = createEncoder("parquet");
  const files = new Map<number, Array<{ key: string; offsets: number[] }>>();
  for (const key of await store.list("ticker")) {
    const rows = await parquet.decode(await store.read(key));
    const partition = rows[0]._kafka_partition as number;
    const offsets = rows.map((r) => r._kafka_offset as number).sort((a, b) => a - b);
    files.set(partition, [...files.get(partition) ?? [], { key, offsets }]);
  }
  const partitions = [...files.keys()].sort();
  assert.ok(partitions.length >= 2, `two partitions at least (${partitions})`);
  const [byOffset, byTime] = partitions;

  // Partition byOffset: the middle of its second file.
  const target = files.get(byOffset)!.sort((a, b) => a.offsets[0] - b.offsets[0])[1];
  assert.ok(target.offsets.length >= 4, `a file with rows to split: ${target.key}`);
  const midOffset = target.offsets[Math.floor(target.offsets.length / 2)];
  // Partition byTime: a record inside a file whose Kafka time is later than its predecessor's,
  // so the first offset at or after that time is this record, not a file's first.
  const messages = (await kcatDump(testBrokers(), topic)).filter((m) => m.partition === byTime);
  const fileFirsts = new Set(files.get(byTime)!.map((f) => f.offsets[0]));
  const timed = messages.find((m, i) =>
    i > 0 && !fileFirsts.has(m.offset) && m.timestamp > messages[i - 1].timestamp
  );
  assert.ok(timed, "a record inside a file with its own Kafka time");

  const reset = await run("--mode", "consume", "--reset-offsets", `${byOffset}:${midOffset}`);
  // The reset warns that the target may lie inside a lake file.
  assert.match(reset.stderr, /may lie inside a lake file/);
  assert.match(reset.stderr, new RegExp(`partitions[=: "]+${byOffset}\\b`));
  await run(
    "--mode",
    "consume",
    "--reset-offsets",
    new Date(timed.timestamp).toISOString(),
    "--partition",
    String(byTime),
  );

  // Compaction while the committed offsets lie inside files: no failure, those files wait.
  const early = await run("--mode", "catalog", "--compact", "--before", "9999-12-31");
  assert.match(early.stdout, /left \d+ file\(s\) for a later run/);
  assert.ok(
    (await store.list("ticker")).includes(target.key),
    "the file across the committed offset was left in place",
  );

  await run("--mode", "consume", "--until-idle");
  const ends = new Map<number, number>();
  for (const m of await kcatDump(testBrokers(), topic)) {
    ends.set(m.partition, Math.max(ends.get(m.partition) ?? 0, m.offset + 1));
  }
  const copied = (ends.get(byOffset)! - midOffset) + (ends.get(byTime)! - timed.offset);
  const before = await counts();
  console.log(
    `reset to ${byOffset}:${midOffset} and ${timed.offset} on ${byTime}: ${JSON.stringify(before)}`,
  );
  assert.ok(before.plain > K, "a plain read sees the re-read rows twice");
  assert.ok(before.plain <= K + copied, `at most the re-read rows twice (${copied})`);
  assert.deepEqual([before.distinct, before.dedup], [K, K], "the dedup view: each offset once");

  const healed = await run("--mode", "catalog", "--compact", "--before", "9999-12-31");
  console.log(healed.stdout.trim());
  assert.match(healed.stdout, /collapsed [\d,]+ duplicate row/);
  const check = await assertExactlyOnce({ brokers: testBrokers(), topic, store });
  assert.equal(check.rows, K);
  assert.deepEqual(await counts(), { plain: K, distinct: K, dedup: K });
  // A second compaction has nothing left to do.
  const again = await run("--mode", "catalog", "--compact", "--before", "9999-12-31");
  assert.match(again.stdout, /compacted 0 \(hour, partition\) group/);
});

Deno.test("compaction over a real lake: two different rows under one offset refuse that (hour, partition) only; the others are compacted and the run exits 3 naming it", async () => {
  const topic = uniqueName("refuse");
  const { config, lake } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD"]
rate_per_second = 3000

[encode]
format = "parquet"

[batch]
max_records = 40
until_idle_secs = 1.5
`,
  ));
  const store = new FileStore(lake);
  for (
    const args of [["--mode", "produce", "--max-records", "300"], [
      "--mode",
      "consume",
      "--until-idle",
    ]]
  ) {
    const result = await cli(["--config", config, ...args]);
    assert.equal(result.code, 0, result.stderr);
  }
  const parquet = createEncoder("parquet");
  const [key] = await store.list("ticker");
  const rows = await parquet.decode(await store.read(key));
  rows.sort((a, b) => (a._kafka_offset as number) - (b._kafka_offset as number));
  assert.ok(rows.length >= 4, `a file with rows to split: ${key}`);
  const partition = rows[0]._kafka_partition as number;
  // A file that disagrees with the lake: offsets from the middle of `key`, one price changed.
  const tampered = rows.slice(2).map((r) => ({ ...r }));
  tampered[0].price = (tampered[0].price as number) + 1;
  const folder = key.slice(0, key.lastIndexOf("/"));
  const other = `${folder}/${
    fileName(topic, partition, tampered[0]._kafka_offset as number, "parquet")
  }`;
  await store.createOnce(other, parquet.encode(tampered, LAKE_COLUMNS, coverageOf(tampered)));

  const result = await cli([
    "--config",
    config,
    "--mode",
    "catalog",
    "--compact",
    "--before",
    "9999-12-31",
  ]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stdout, /compacted [1-9]\d* \(hour, partition\) group/);
  assert.match(
    result.stdout,
    new RegExp(`refused ${folder} partition ${partition}: .*different content \\(column price\\)`),
  );
  assert.match(result.stderr, /compaction refused 1 \(hour, partition\) group/);
  const after = await store.list("ticker");
  assert.ok(after.includes(key) && after.includes(other), "the refused group is untouched");
  const compacted = after.filter((k) => /-\d{20}\.parquet$/.test(k));
  assert.ok(compacted.length >= 1, "the other partitions were compacted");
  assert.ok(compacted.every((k) => !k.startsWith(`${folder}/${topic}+${partition}+`)));
});
