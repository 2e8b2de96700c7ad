import assert from "node:assert/strict";
import { join } from "node:path";
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

Deno.test("file store: create-once never overwrites, and leaves no temp files", async () => {
  const root = await Deno.makeTempDir();
  const store = new FileStore(root);
  const key = "ticker/dt=2026-11-24/hour=07/t+0+00000000000000000000.jsonl";
  assert.equal(await store.createOnce(key, new TextEncoder().encode("first\n")), "created");
  assert.equal(await store.createOnce(key, new TextEncoder().encode("second\n")), "exists");
  assert.equal(new TextDecoder().decode(await store.read(key)), "first\n");
  assert.deepEqual(await store.list("ticker"), [key]);
  assert.deepEqual([...Deno.readDirSync(join(root, ".tmp"))], []);
});

Deno.test("file store: keys cannot leave the lake", async () => {
  const store = new FileStore(await Deno.makeTempDir());
  await assert.rejects(
    () => store.createOnce("../outside.jsonl", new Uint8Array([1])),
    /not a plain relative path/,
  );
  await assert.rejects(
    () => store.createOnce("ticker//x", new Uint8Array([1])),
    /not a plain relative path/,
  );
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
