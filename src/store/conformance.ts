/**
 * The store contract, as one test suite that every backend runs (file_test.ts, s3_test.ts).
 * Not a test file itself: each backend's test registers it with its own factory.
 */
import assert from "node:assert/strict";
import type { Store } from "./mod.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

export function storeConformance(backend: string, makeStore: () => Promise<Store>): void {
  const test = (name: string, fn: (store: Store) => Promise<void>) =>
    Deno.test(`store conformance (${backend}): ${name}`, async () => fn(await makeStore()));

  test("create-once creates, then reports exists and keeps the first content", async (store) => {
    const key = "ticker/dt=2026-11-24/hour=07/t+0+00000000000000000000.jsonl";
    assert.equal(await store.createOnce(key, bytes("first\n")), "created");
    assert.equal(await store.createOnce(key, bytes("second, longer\n")), "exists");
    assert.equal(text(await store.read(key)), "first\n");
  });

  test("bytes round-trip exactly, binary and empty included", async (store) => {
    const binary = new Uint8Array(70_000).map((_, i) => (i * 7919) % 256);
    await store.createOnce("t/binary.parquet", binary);
    await store.createOnce("t/empty.jsonl", new Uint8Array());
    assert.deepEqual(await store.read("t/binary.parquet"), binary);
    assert.equal((await store.read("t/empty.jsonl")).length, 0);
  });

  test("list returns the keys under a folder, sorted, and nothing of a sibling prefix", async (store) => {
    for (
      const key of [
        "ticker/dt=2026-11-24/hour=08/b",
        "ticker/dt=2026-11-24/hour=07/a",
        "ticker_errors/x",
        "tick/y",
      ]
    ) {
      await store.createOnce(key, bytes(key));
    }
    assert.deepEqual(await store.list("ticker"), [
      "ticker/dt=2026-11-24/hour=07/a",
      "ticker/dt=2026-11-24/hour=08/b",
    ]);
    assert.deepEqual(await store.list("ticker/dt=2026-11-24/hour=08"), [
      "ticker/dt=2026-11-24/hour=08/b",
    ]);
    assert.deepEqual(await store.list("nothing-here"), []);
  });

  test("folders names the sub-folders one level down, sorted, without files", async (store) => {
    for (
      const key of [
        "ticker/dt=2026-11-25/hour=00/a",
        "ticker/dt=2026-11-24/hour=08/b",
        "ticker/dt=2026-11-24/hour=07/c",
        "ticker/readme.txt",
        "ticker_errors/dt=2026-01-01/hour=00/x",
      ]
    ) {
      await store.createOnce(key, bytes(key));
    }
    assert.deepEqual(await store.folders("ticker"), ["dt=2026-11-24", "dt=2026-11-25"]);
    assert.deepEqual(await store.folders("ticker/dt=2026-11-24/"), ["hour=07", "hour=08"]);
    assert.deepEqual(await store.folders("nothing-here"), []);
  });

  test("concurrent creates of one key: exactly one wins, its content stays whole", async (store) => {
    const key = "race/k.jsonl";
    const contents = Array.from({ length: 8 }, (_, i) => `writer ${i} `.repeat(1000));
    const results = await Promise.all(contents.map((c) => store.createOnce(key, bytes(c))));
    assert.equal(results.filter((r) => r === "created").length, 1);
    assert.ok(contents.includes(text(await store.read(key))));
  });

  test("delete removes a key, leaves its neighbours, and a repeated delete is no error", async (store) => {
    await store.createOnce("ticker/dt=2026-11-24/hour=07/a", bytes("a"));
    await store.createOnce("ticker/dt=2026-11-24/hour=07/b", bytes("b"));
    await store.delete("ticker/dt=2026-11-24/hour=07/a");
    await store.delete("ticker/dt=2026-11-24/hour=07/a");
    await store.delete("ticker/never-existed");
    assert.deepEqual(await store.list("ticker"), ["ticker/dt=2026-11-24/hour=07/b"]);
    // A deleted key can be created again (compaction's rerun never needs it, but the contract
    // must not leave a tombstone that blocks a later create-once).
    assert.equal(
      await store.createOnce("ticker/dt=2026-11-24/hour=07/a", bytes("again")),
      "created",
    );
    assert.equal(text(await store.read("ticker/dt=2026-11-24/hour=07/a")), "again");
    await assert.rejects(() => store.delete("../outside"), /not a plain relative path/);
  });

  test("reading a missing key is a runtime failure naming the key", async (store) => {
    await assert.rejects(() => store.read("missing/key.parquet"), (error: Error) => {
      assert.equal(error.name, "RuntimeFailure");
      assert.match(error.message, /missing\/key\.parquet/);
      return true;
    });
  });

  test("keys cannot escape the lake", async (store) => {
    await assert.rejects(
      () => store.createOnce("../outside.jsonl", bytes("x")),
      /not a plain relative path/,
    );
    await assert.rejects(
      () => store.createOnce("ticker//x", bytes("x")),
      /not a plain relative path/,
    );
  });
}
