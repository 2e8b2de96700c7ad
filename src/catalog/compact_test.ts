/** Compaction's pure parts: names, which files a compacted file covers, cut-off and sort order. */
import assert from "node:assert/strict";
import {
  compactedFileName,
  fileName,
  parseCompactedFileName,
  parseFileName,
} from "../store/mod.ts";
import {
  finishedBy,
  groupFiles,
  type LakeFile,
  lakeFile,
  parseBefore,
  sortRows,
  supersededFiles,
} from "./compact.ts";

const HOUR = "ticker/dt=2026-11-20/hour=07";

Deno.test("compacted names: round-trip, sort by first offset, and are not plain file names", () => {
  const name = compactedFileName("crypto.ticker.v1", 2, 100, 4_999, "parquet");
  assert.equal(name, "crypto.ticker.v1+2+00000000000000000100-00000000000000004999.parquet");
  assert.deepEqual(parseCompactedFileName(name), {
    topic: "crypto.ticker.v1",
    partition: 2,
    firstOffset: 100,
    lastOffset: 4_999,
    extension: "parquet",
  });
  assert.equal(parseFileName(name), undefined);
  assert.equal(parseCompactedFileName(fileName("t", 2, 100, "parquet")), undefined);
  // A backwards range is not ours.
  assert.equal(
    parseCompactedFileName("t+0+00000000000000000009-00000000000000000001.parquet"),
    undefined,
  );
});

Deno.test("lakeFile: plain and compacted files of the topic; others are ignored", () => {
  assert.deepEqual(lakeFile(`${HOUR}/${fileName("t", 1, 7, "parquet")}`, "t"), {
    key: `${HOUR}/${fileName("t", 1, 7, "parquet")}`,
    folder: HOUR,
    partition: 1,
    first: 7,
    compacted: false,
  });
  const compacted = lakeFile(`${HOUR}/${compactedFileName("t", 1, 7, 9, "parquet")}`, "t");
  assert.deepEqual([compacted?.first, compacted?.last, compacted?.compacted], [7, 9, true]);
  assert.equal(lakeFile(`${HOUR}/${fileName("other", 1, 7, "parquet")}`, "t"), undefined);
  assert.equal(lakeFile(`${HOUR}/notes.txt`, "t"), undefined);
});

const plain = (partition: number, first: number): LakeFile => ({
  key: `${HOUR}/${fileName("t", partition, first, "parquet")}`,
  folder: HOUR,
  partition,
  first,
  compacted: false,
});
const compacted = (partition: number, first: number, last: number): LakeFile => ({
  key: `${HOUR}/${compactedFileName("t", partition, first, last, "parquet")}`,
  folder: HOUR,
  partition,
  first,
  last,
  compacted: true,
});

Deno.test("supersededFiles: an interrupted run's inputs are found under the file that covers them", () => {
  const old = compacted(0, 0, 99);
  const bigger = compacted(0, 0, 150);
  const inputs = [plain(0, 100), plain(0, 120)];
  const late = plain(0, 151);
  const { covering, rest } = supersededFiles([old, bigger, ...inputs, late]);
  // The older, narrower compacted file and the plain inputs all go under the widest one.
  assert.deepEqual(
    new Set(covering.get(bigger)),
    new Set([old, ...inputs]),
  );
  assert.equal(covering.size, 1);
  assert.deepEqual(rest, [bigger, late]);
  // Nothing covered: everything is left to compact.
  assert.deepEqual(supersededFiles([plain(0, 1), plain(0, 5)]).rest.length, 2);
});

Deno.test("groupFiles: one group per (hour folder, Kafka partition)", () => {
  const other = { ...plain(0, 3), folder: "ticker/dt=2026-11-20/hour=08", key: "x" };
  const groups = groupFiles([plain(0, 1), plain(1, 2), plain(0, 5), other]);
  assert.deepEqual(groups.map((g) => [g.folder.slice(-7), g.partition, g.files.length]), [
    ["hour=07", 0, 2],
    ["hour=07", 1, 1],
    ["hour=08", 0, 1],
  ]);
});

Deno.test("--before: a day or an hour; only hours that have ended by then", () => {
  const day = parseBefore("2026-11-20");
  assert.equal(new Date(day).toISOString(), "2026-11-20T00:00:00.000Z");
  assert.equal(new Date(parseBefore("2026-11-20T13")).toISOString(), "2026-11-20T13:00:00.000Z");
  assert.equal(
    new Date(parseBefore(undefined, Date.parse("2026-11-24T15:30:00Z"))).toISOString(),
    "2026-11-24T00:00:00.000Z",
  );
  for (const bad of ["2026-11-31", "20261120", "2026-11-20T24", "yesterday"]) {
    assert.throws(() => parseBefore(bad), /Invalid --before/);
  }
  assert.equal(finishedBy("ticker/dt=2026-11-19/hour=23", day), true);
  assert.equal(finishedBy("ticker/dt=2026-11-20/hour=00", day), false);
  assert.equal(finishedBy("ticker/readme", day), false);
});

Deno.test("sortRows: by symbol, then event_time, then Kafka offset", () => {
  const rows = [
    { symbol: "ETH-USD", event_time: 1, _kafka_offset: 0 },
    { symbol: "BTC-USD", event_time: 2, _kafka_offset: 1 },
    { symbol: "BTC-USD", event_time: 1, _kafka_offset: 3 },
    { symbol: "BTC-USD", event_time: 1, _kafka_offset: 2 },
  ];
  assert.deepEqual(
    sortRows(rows, ["symbol", "event_time"]).map((r) => r._kafka_offset),
    [2, 3, 1, 0],
  );
});
