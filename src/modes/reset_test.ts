import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { formatResetPlan, parsePartitionList, parseResetTarget, planReset } from "./reset.ts";
import { FileStore } from "../store/file.ts";
import { expiredPartitions, retentionCutoff } from "./retention.ts";

const LOGS = [
  { partition: 0, low: 0, high: 100 },
  { partition: 1, low: 20, high: 50 },
  { partition: 2, low: 0, high: 0 },
];

Deno.test("reset: the target is earliest, latest, a time with a zone, or p:offset pairs", () => {
  assert.deepEqual(parseResetTarget("earliest"), { kind: "earliest" });
  assert.deepEqual(parseResetTarget("latest"), { kind: "latest" });
  assert.deepEqual(parseResetTarget("2026-11-24T10:00:00+01:00"), {
    kind: "time",
    epochMs: Date.UTC(2026, 10, 24, 9),
    text: "2026-11-24T09:00:00.000Z",
  });
  assert.equal(
    (parseResetTarget("2026-11-24") as { epochMs: number }).epochMs,
    Date.UTC(2026, 10, 24),
  );
  assert.deepEqual(
    parseResetTarget("0:5,2:7"),
    { kind: "offsets", offsets: new Map([[0, 5], [2, 7]]) },
  );
  for (const bad of ["2026-11-24T10:00:00", "yesterday", "0:5,0:6", "-1:3", "0:x"]) {
    assert.throws(() => parseResetTarget(bad), UsageError, bad);
  }
  assert.deepEqual(parsePartitionList("2,0,2"), [0, 2]);
  assert.throws(() => parsePartitionList("0-2"), UsageError);
});

Deno.test("reset: the plan per partition, with lag; explicit offsets are checked against the log", () => {
  const committed = new Map([[0, 90], [1, 30]]);
  const earliest = planReset({ kind: "earliest" }, LOGS, committed, undefined, "t");
  assert.deepEqual(earliest.map((r) => [r.partition, r.committed, r.next]), [
    [0, 90, 0],
    [1, 30, 20],
    [2, undefined, 0],
  ]);
  const timed = planReset(
    { kind: "time", epochMs: 0, text: "" },
    LOGS,
    committed,
    new Map([[0, 60], [1, 50]]),
    "t",
  );
  assert.deepEqual(timed.map((r) => r.next), [60, 50, 0]);
  const some = planReset(
    { kind: "offsets", offsets: new Map([[1, 50]]) },
    LOGS,
    committed,
    undefined,
    "t",
  );
  assert.deepEqual(some.map((r) => [r.partition, r.next]), [[1, 50]]);
  assert.throws(
    () =>
      planReset({ kind: "offsets", offsets: new Map([[1, 19]]) }, LOGS, committed, undefined, "t"),
    /offset 19 of partition 1 is outside its log: offsets 20 to 49; 50 is its end/,
  );
  assert.throws(
    () =>
      planReset({ kind: "offsets", offsets: new Map([[3, 0]]) }, LOGS, committed, undefined, "t"),
    /has no partition 3/,
  );
  const table = formatResetPlan(earliest).split("\n");
  assert.equal(table[0], "partition  committed  new  log start  log end  lag before  lag after");
  // lag before: end − committed (or − log start when nothing is committed); after: end − new.
  assert.deepEqual(table.slice(1, 4).map((l) => l.trim().split(/\s+/)), [
    ["0", "90", "0", "0", "100", "10", "100"],
    ["1", "30", "20", "20", "50", "20", "30"],
    ["2", "none", "0", "0", "0", "0", "0"],
  ]);
});

Deno.test("retention: partitions before today minus retention_days expire; today counts as day 0", () => {
  const now = Date.UTC(2026, 10, 25, 0, 30);
  assert.equal(retentionCutoff(now, 30), "2026-10-26");
  assert.equal(retentionCutoff(now, 1), "2026-11-24");
});

Deno.test("retention: dead letters without a usable time (dt=1970-01-01) are never expired", async () => {
  const store = new FileStore(await Deno.makeTempDir());
  const bytes = new TextEncoder().encode("{}\n");
  for (const dt of ["1970-01-01", "2020-01-01", "2026-11-20"]) {
    assert.equal(
      await store.createOnce(`ticker_errors/dt=${dt}/hour=00/a.jsonl`, bytes),
      "created",
    );
  }
  const expired = await expiredPartitions(store, ["ticker_errors"], "2026-10-26");
  assert.deepEqual(expired.map((p) => p.dt), ["2020-01-01"]);
});
