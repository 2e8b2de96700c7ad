/**
 * Disk full on the local store: consume stops with a clear error, commits nothing that is not
 * durable, leaves no half-written file, and once space returns the next run completes the lake
 * exactly once. Two ways to fill the disk: a real 768 KiB tmpfs mounted under the lake (needs
 * root), and a store wrapper that fails writes with ENOSPC once a byte budget is spent (runs
 * everywhere, in-process). And a store that never answers: the stop stays bounded.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../src/config/mod.ts";
import { RuntimeFailure } from "../src/errors.ts";
import { silentLogger } from "../src/log.ts";
import { consume } from "../src/modes/consume.ts";
import type { Store } from "../src/store/mod.ts";
import { FileStore } from "../src/store/file.ts";
import { baseToml, cli, lakeFiles, testBrokers, uniqueName, workspace } from "./helpers.ts";
import { assertCommitsDurable, assertExactlyOnce } from "./oracle.ts";

const N = 6000;

async function setup(name: string) {
  const topic = uniqueName(name);
  const group = uniqueName("group");
  const ws = await workspace(baseToml(
    topic,
    group,
    `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[encode]
format = "jsonl"

[batch]
max_records = 200
max_age_secs = 0.3
until_idle_secs = 1.5
`,
  ));
  const produced = await cli(["--mode", "produce", "--config", ws.config, "--max-records", `${N}`]);
  assert.equal(produced.code, 0, produced.stderr);
  return { ...ws, topic, group };
}

async function run(command: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
}

/** Can this process mount a tmpfs (root, or CAP_SYS_ADMIN)? */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const probe = await Deno.makeTempDir();
  try {
    if (!(await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe])).success) {
      return false;
    }
    await run("umount", [probe]);
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
}

/** Check that every committed offset is durable; the number of records committed. */
async function committedDurably(ws: Awaited<ReturnType<typeof setup>>): Promise<number> {
  const committed = await assertCommitsDurable({
    brokers: testBrokers(),
    topic: ws.topic,
    group: ws.group,
    store: ws.lake,
  });
  return [...committed.values()].reduce((a, b) => a + b, 0);
}

async function finishAndCheck(ws: Awaited<ReturnType<typeof setup>>): Promise<void> {
  const finished = await cli(["--mode", "consume", "--config", ws.config, "--until-idle"]);
  assert.equal(finished.code, 0, finished.stderr);
  const check = await assertExactlyOnce({
    brokers: testBrokers(),
    topic: ws.topic,
    store: ws.lake,
  });
  assert.equal(check.rows, N);
  const leftovers = await lakeFiles(join(ws.lake, ".tmp"));
  assert.deepEqual(leftovers, [], "no half-written temp files are left behind");
}

const mountable = await canMount();

Deno.test({
  name:
    "disk full (a real 768 KiB tmpfs under the lake): exit 3 with a clear error, no commit past durable files, recovery once space returns",
  ignore: !mountable,
  async fn() {
    const ws = await setup("diskfull-tmpfs");
    await Deno.mkdir(ws.lake, { recursive: true });
    const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=768k", "tmpfs", ws.lake]);
    assert.ok(mounted.success, new TextDecoder().decode(mounted.stderr));
    try {
      const full = await cli(["--mode", "consume", "--config", ws.config, "--until-idle"]);
      assert.equal(full.code, 3, full.stderr);
      const lines = full.stderr.trimEnd().split("\n");
      assert.match(lines.at(-1)!, /^error: Cannot write .*No space left on device/);
      assert.doesNotMatch(full.stderr, /^\s+at /m, "no stack trace");
      const total = await committedDurably(ws);
      assert.ok(total < N, "the disk filled before the end");
      console.log(`  disk full after ${total} of ${N} records committed; growing the tmpfs`);
      const grown = await run("mount", ["-o", "remount,size=64m", ws.lake]);
      assert.ok(grown.success, new TextDecoder().decode(grown.stderr));
      await finishAndCheck(ws);
    } finally {
      await run("umount", ["-l", ws.lake]);
    }
  },
});

/** A FileStore that fails like a full disk once `budget` bytes have been written. */
class EnospcStoreWrapper implements Store {
  readonly describe: string;
  written = 0;
  failures = 0;
  constructor(readonly inner: FileStore, public budget: number) {
    this.describe = `${inner.describe} (ENOSPC after ${budget} bytes)`;
  }
  async createOnce(key: string, bytes: Uint8Array) {
    if (this.written + bytes.byteLength > this.budget) {
      this.failures++;
      throw new RuntimeFailure(
        `Cannot write ${key}: No space left on device (os error 28) [injected by EnospcStoreWrapper]`,
      );
    }
    const result = await this.inner.createOnce(key, bytes);
    this.written += bytes.byteLength;
    return result;
  }
  read(key: string) {
    return this.inner.read(key);
  }
  metadata(key: string) {
    return this.inner.metadata(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  folders(prefix: string) {
    return this.inner.folders(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
}

Deno.test("disk full (ENOSPC-injecting store wrapper, in-process): the run fails with the store's error, commits only durable files, and the next run completes the lake", async () => {
  const ws = await setup("diskfull-wrapper");
  const config = loadConfig(ws.config);
  const store = new EnospcStoreWrapper(new FileStore(ws.lake), 1024 * 1024);
  await assert.rejects(
    () =>
      consume({
        config,
        logger: silentLogger,
        signal: new AbortController().signal,
        flags: { untilIdle: true },
        write: () => Promise.resolve(),
      }, store),
    /No space left on device/,
  );
  assert.equal(store.failures, 1, "the first failed write ends the run");
  const total = await committedDurably(ws);
  assert.ok(total < N, "the budget ran out before the end");
  await finishAndCheck(ws);
});

/** A store whose writes never finish (a stalled disk or endpoint), named as such. */
class HangingStoreWrapper extends EnospcStoreWrapper {
  override createOnce(): Promise<"created"> {
    this.failures++;
    return new Promise(() => {});
  }
}

Deno.test("shutdown with a hanging store (HangingStoreWrapper, in-process): the stop is bounded by shutdown_timeout_secs, nothing is committed, and the next run completes the lake", async () => {
  const ws = await setup("shutdown-hang");
  const config = loadConfig(ws.config);
  const bounded = {
    ...config,
    batch: {
      ...config.batch,
      max_records: 1_000_000,
      max_age_secs: 600,
      max_idle_secs: 600,
      shutdown_timeout_secs: 1,
    },
  };
  const store = new HangingStoreWrapper(new FileStore(ws.lake), 0);
  const stop = new AbortController();
  const running = consume({
    config: bounded,
    logger: silentLogger,
    signal: stop.signal,
    flags: {},
    write: () => Promise.resolve(),
  }, store);
  // Let it read everything (nothing is flushed before the stop: every limit is far away).
  await new Promise((r) => setTimeout(r, 6000));
  const signalled = Date.now();
  stop.abort();
  const summary = await running;
  const took = Date.now() - signalled;
  assert.ok(took < 1000 + 5000 + 1000, `stopped in ${took} ms`);
  assert.ok(store.failures > 0, "the shutdown flush did try to write");
  assert.equal(summary.rows, N, "it had read everything before the stop");
  assert.equal(await committedDurably(ws), 0, "nothing committed");
  await finishAndCheck(ws);
});
