import assert from "node:assert/strict";
import { join } from "node:path";
import { storeConformance } from "./conformance.ts";
import { FileStore } from "./file.ts";
import { fileName, objectKey, parseFileName, timePartition } from "./mod.ts";

Deno.test("layout: Hive partitions by UTC event time; names carry the 20-digit first offset", () => {
  assert.deepEqual(timePartition(Date.UTC(2026, 10, 24, 23, 59, 59, 999)), {
    dt: "2026-11-24",
    hour: "23",
  });
  assert.deepEqual(timePartition(Date.UTC(2026, 10, 25)), { dt: "2026-11-25", hour: "00" });
  assert.equal(
    objectKey("ticker", { dt: "2026-11-24", hour: "07" }, "crypto.ticker.v1", 2, 1234, "parquet"),
    "ticker/dt=2026-11-24/hour=07/crypto.ticker.v1+2+00000000000000001234.parquet",
  );
  assert.deepEqual(parseFileName(fileName("a.b-c_d", 11, 99, "jsonl")), {
    topic: "a.b-c_d",
    partition: 11,
    firstOffset: 99,
    extension: "jsonl",
  });
  assert.equal(parseFileName("notes.txt"), undefined);
});

storeConformance("local folder", async () => new FileStore(await Deno.makeTempDir()));

Deno.test("file store: no temp files are left behind", async () => {
  const root = await Deno.makeTempDir();
  const store = new FileStore(root);
  await store.createOnce("t/a.jsonl", new Uint8Array([1]));
  await store.createOnce("t/a.jsonl", new Uint8Array([2]));
  assert.deepEqual([...Deno.readDirSync(join(root, ".tmp"))], []);
});

Deno.test("file store: stale temp files from a crash are cleaned, fresh ones are left alone", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, ".tmp"));
  const stale = join(root, ".tmp", "stale.part");
  const fresh = join(root, ".tmp", "fresh.part");
  await Deno.writeTextFile(stale, "x");
  await Deno.writeTextFile(fresh, "y");
  const old = new Date(Date.now() - 2 * 3600_000);
  await Deno.utime(stale, old, old);
  await new FileStore(root).createOnce("t/a.jsonl", new Uint8Array([1]));
  assert.deepEqual([...Deno.readDirSync(join(root, ".tmp"))].map((e) => e.name), ["fresh.part"]);
});
