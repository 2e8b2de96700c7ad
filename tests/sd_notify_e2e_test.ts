/**
 * systemd Type=notify end to end: the real CLI with NOTIFY_SOCKET pointing at a datagram socket
 * the test binds (standing in for systemd), against the test broker. READY=1 comes only after
 * the mode's first real success, WATCHDOG=1 keeps coming while it works, STOPPING=1 follows
 * SIGTERM, the exit is clean and the client socket is gone. A consume stuck on its store (S3
 * behind a loopback fault proxy that stalls every write: the hang a real store can produce but
 * moto cannot) stops petting the watchdog.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NotifyReceiver } from "../src/systemd_notify_testing.ts";
import { startFaultProxy } from "./fault_proxy.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  testS3Endpoint,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { CliProcess, disposeAll, sleep } from "./processes.ts";

const WATCHDOG_USEC = "1000000";

function systemdEnv(receiver: NotifyReceiver, runtime: string): Record<string, string> {
  return { NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: runtime, WATCHDOG_USEC };
}

const ready = (m: string[]) => m.some((x) => x.startsWith("READY=1"));
const watchdogs = (m: string[]) => m.filter((x) => x === "WATCHDOG=1").length;

Deno.test("sd_notify e2e: produce and consume say READY after connecting / joining, pet the watchdog, say STOPPING on SIGTERM and exit 0", async () => {
  const topic = uniqueName("notify");
  const ws = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD"]
rate_per_second = 50
seed = 7

[batch]
max_age_secs = 1
max_idle_secs = 0.5
`,
  ));
  const processes: CliProcess[] = [];
  const receivers: NotifyReceiver[] = [];
  try {
    for (const mode of ["produce", "consume"]) {
      const runtime = join(ws.dir, `run-${mode}`);
      await Deno.mkdir(runtime);
      const receiver = new NotifyReceiver(join(ws.dir, `systemd-notify-${mode}`));
      receivers.push(receiver);
      const child = new CliProcess(
        mode,
        ["--mode", mode, "--config", ws.config],
        systemdEnv(receiver, runtime),
      );
      processes.push(child);
      // READY only once the mode works: after "producing" (topics ensured, publisher
      // connected) or "partitions assigned" (group joined), never before.
      await receiver.waitFor(ready, 60_000).catch((error) => {
        throw new Error(`${error.message}\n${child.tail()}`);
      });
      const marker = mode === "produce" ? /producing/ : /partitions assigned/;
      assert.ok(child.count(marker) >= 1, `READY came before the first success:\n${child.tail()}`);
      const readyMessage = receiver.messages.find((m) => m.startsWith("READY=1"))!;
      assert.match(readyMessage, mode === "produce" ? /STATUS=producing to / : /STATUS=consuming /);
      assert.ok(Deno.statSync(join(runtime, "notify.sock")).isSocket);
      // Half of WATCHDOG_USEC: about two per second.
      const before = watchdogs(receiver.messages);
      await receiver.waitFor((m) => watchdogs(m) >= before + 3, 5_000);
    }
    // consume has read something produce published: both really work.
    await processes[1].waitFor(/flushed/, 30_000);
    for (const [i, child] of processes.entries()) {
      const status = await child.stop("SIGTERM");
      assert.equal(status.code, 0, child.tail());
      const receiver = receivers[i];
      await receiver.waitFor((m) => m.some((x) => x.startsWith("STOPPING=1")));
      const stopping = receiver.messages.findIndex((x) => x.startsWith("STOPPING=1"));
      assert.equal(
        receiver.messages.filter((x) => x.startsWith("STOPPING=1")).length,
        1,
        "STOPPING once",
      );
      assert.ok(stopping > receiver.messages.findIndex((x) => x.startsWith("READY=1")));
      await assert.rejects(
        Deno.stat(join(ws.dir, `run-${child.name}`, "notify.sock")),
        Deno.errors.NotFound,
        "the client socket is removed on exit",
      );
    }
  } finally {
    await disposeAll(processes);
    for (const receiver of receivers) await receiver.close();
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("sd_notify e2e: a NOTIFY_SOCKET that is not an absolute path or @name is one line and exit 2", async () => {
  const ws = await workspace(baseToml(uniqueName("notify"), uniqueName("group")));
  try {
    const child = new CliProcess("consume", ["--mode", "consume", "--config", ws.config], {
      NOTIFY_SOCKET: "relative/notify",
    });
    const status = await child.finished();
    assert.equal(status.code, 2, child.tail());
    assert.match(child.stderr, /NOTIFY_SOCKET="relative\/notify" is neither an absolute path/);
    assert.doesNotMatch(child.stderr, /\n\s+at /, "one line, no stack");
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("sd_notify e2e (stalled S3 via fault proxy): a consume stuck on its store stops petting the watchdog", async () => {
  const bucket = await freshBucket();
  const proxy = startFaultProxy({
    upstream: testS3Endpoint(),
    seed: 1,
    methods: ["PUT", "POST"],
    latencyMs: 8_000,
  });
  const topic = uniqueName("notify-hang");
  const ws = await workspace(
    baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[batch]
max_age_secs = 0.5
max_idle_secs = 0.3
shutdown_timeout_secs = 1
`,
    ).replace(
      /\[store\]\npath = "\{lake\}"\n/,
      `[store]
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${proxy.url}"
force_path_style = true
region = "us-east-1"
max_attempts = 1
`,
    ),
  );
  const receiver = new NotifyReceiver(join(ws.dir, "systemd-notify"));
  const runtime = join(ws.dir, "run");
  await Deno.mkdir(runtime);
  const produce = (n: number) =>
    cli(["--mode", "produce", "--config", ws.config, "--max-records", String(n)]);
  let consume: CliProcess | undefined;
  try {
    assert.equal((await produce(50)).code, 0);
    consume = new CliProcess("consume", ["--mode", "consume", "--config", ws.config], {
      ...AWS_TEST_ENV,
      ...systemdEnv(receiver, runtime),
    });
    await receiver.waitFor(ready, 60_000);
    await consume.waitFor(/flushed/, 30_000);
    const healthy = watchdogs(receiver.messages);
    await receiver.waitFor((m) => watchdogs(m) >= healthy + 2, 5_000);

    // Every write to S3 now stalls for 8 s: the next flush holds consume's loop.
    proxy.setRates({ latency: 1 });
    assert.equal((await produce(50)).code, 0);
    await consume.waitFor(/no progress within the watchdog interval/, 15_000);
    const stuck = watchdogs(receiver.messages);
    await sleep(2_000);
    assert.equal(
      watchdogs(receiver.messages),
      stuck,
      `a stuck consume kept petting the watchdog:\n${consume.tail()}`,
    );
    assert.ok(proxy.injected.latency >= 1);
  } finally {
    await consume?.dispose();
    await receiver.close();
    await proxy.close();
    await Deno.remove(ws.dir, { recursive: true });
  }
});
