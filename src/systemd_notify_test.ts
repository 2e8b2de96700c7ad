/**
 * The sd_notify client against a real AF_UNIX datagram socket bound by the test, standing in
 * for systemd's /run/systemd/notify.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientSocketPath,
  formatNotifyMessage,
  notifyPermissionFlags,
  notifySocketAddress,
  SystemdNotifier,
  watchdogMs,
} from "./systemd_notify.ts";
import { UsageError } from "./errors.ts";
import { NotifyReceiver } from "./systemd_notify_testing.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function withReceiver(
  run: (receiver: NotifyReceiver, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-notify-" });
  const receiver = new NotifyReceiver(join(dir, "systemd-notify"));
  try {
    await run(receiver, dir);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("sd_notify: messages are KEY=value lines, a value never spans lines", () => {
  assert.equal(formatNotifyMessage({ READY: 1 }), "READY=1");
  assert.equal(
    formatNotifyMessage({ READY: 1, STATUS: "consuming\nticker" }),
    "READY=1\nSTATUS=consuming ticker",
  );
  assert.throws(() => formatNotifyMessage({ "ready": 1 }), /Invalid sd_notify field/);
});

Deno.test("sd_notify: socket addresses, client paths and the watchdog interval from the environment", () => {
  assert.equal(notifySocketAddress("/run/systemd/notify"), "/run/systemd/notify");
  assert.equal(notifySocketAddress("@abstract/notify"), "\0abstract/notify");
  assert.throws(() => notifySocketAddress("relative/notify"), UsageError);
  assert.equal(
    clientSocketPath("consume", envOf({ RUNTIME_DIRECTORY: "/run/cryptopipe/consume:/run/x" })),
    "/run/cryptopipe/consume/notify.sock",
  );
  assert.equal(
    clientSocketPath("produce", envOf({ XDG_RUNTIME_DIR: "/run/user/1000" })),
    "/run/user/1000/cryptopipe-notify-produce.sock",
  );
  assert.equal(clientSocketPath("produce", envOf({})), "/tmp/cryptopipe-notify-produce.sock");
  assert.equal(watchdogMs(envOf({ WATCHDOG_USEC: "60000000" })), 60_000);
  assert.equal(watchdogMs(envOf({})), undefined);
  assert.equal(watchdogMs(envOf({ WATCHDOG_USEC: "0" })), undefined);
  assert.equal(
    watchdogMs(envOf({ WATCHDOG_USEC: "60000000", WATCHDOG_PID: String(Deno.pid + 1) })),
    undefined,
    "a watchdog meant for another PID is not ours",
  );
  assert.equal(
    watchdogMs(envOf({ WATCHDOG_USEC: "2000000", WATCHDOG_PID: String(Deno.pid) })),
    2000,
  );
});

Deno.test("sd_notify: without NOTIFY_SOCKET every call is a no-op", async () => {
  await withReceiver(async (receiver, dir) => {
    const notifier = await SystemdNotifier.open({
      mode: "consume",
      env: envOf({ RUNTIME_DIRECTORY: dir, WATCHDOG_USEC: "20000" }),
    });
    assert.equal(notifier.enabled, false);
    assert.equal(notifier.watchdogIntervalMs, undefined);
    notifier.ready("consuming");
    notifier.alive();
    notifier.stopping();
    await sleep(50);
    await notifier.close();
    assert.deepEqual(receiver.messages, []);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["systemd-notify"]);
  });
});

Deno.test("sd_notify: READY, STATUS and STOPPING arrive in order; the client socket is removed on close", async () => {
  await withReceiver(async (receiver, dir) => {
    // A stale client socket from a killed run must not block the bind.
    const stale = Deno.listenDatagram({ transport: "unixpacket", path: join(dir, "notify.sock") });
    stale.close();
    assert.ok(Deno.statSync(join(dir, "notify.sock")).isSocket);
    const notifier = await SystemdNotifier.open({
      mode: "consume",
      env: envOf({ NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: dir }),
    });
    assert.equal(notifier.enabled, true);
    notifier.ready("consuming ticker");
    notifier.ready("again: only the status");
    notifier.status("3 partitions");
    notifier.stopping();
    notifier.stopping();
    notifier.status("after stopping is not sent");
    await receiver.waitFor((m) => m.length >= 4);
    await notifier.close();
    await sleep(30);
    assert.deepEqual(receiver.messages, [
      "READY=1\nSTATUS=consuming ticker",
      "STATUS=again: only the status",
      "STATUS=3 partitions",
      "STOPPING=1\nSTATUS=stopping",
    ]);
    await assert.rejects(Deno.stat(join(dir, "notify.sock")), Deno.errors.NotFound);
  });
});

Deno.test("sd_notify: an abstract @ NOTIFY_SOCKET works too", async () => {
  const name = `cryptopipe-test-${crypto.randomUUID()}`;
  const receiver = new NotifyReceiver("\0" + name);
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-notify-" });
  try {
    const notifier = await SystemdNotifier.open({
      mode: "produce",
      env: envOf({ NOTIFY_SOCKET: "@" + name, XDG_RUNTIME_DIR: dir }),
    });
    notifier.ready();
    await receiver.waitFor((m) => m.length >= 1);
    await notifier.close();
    assert.deepEqual(receiver.messages, ["READY=1"]);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the fallback client socket is removed");
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sd_notify: WATCHDOG=1 every WATCHDOG_USEC/2 while alive, and no more once the mode stops reporting progress", async () => {
  await withReceiver(async (receiver, dir) => {
    let now = 1_000_000;
    const notifier = await SystemdNotifier.open({
      mode: "produce",
      tracksLiveness: true,
      now: () => now,
      env: envOf({ NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: dir, WATCHDOG_USEC: "200000" }),
    });
    try {
      assert.equal(notifier.watchdogIntervalMs, 200);
      const watchdogs = () => receiver.messages.filter((m) => m === "WATCHDOG=1").length;
      // Before READY start-up is petted regardless (TimeoutStartSec= bounds it).
      now += 10_000;
      await receiver.waitFor(() => watchdogs() >= 1);
      notifier.ready();
      const started = Date.now();
      await receiver.waitFor(() => watchdogs() >= 5, 3000);
      // 4 more ticks at 100 ms apart take about 400 ms: the interval is half of WATCHDOG_USEC.
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1500, `4 ticks took ${elapsed} ms`);
      // Alive within the window: still petted.
      now += 150;
      notifier.alive();
      now += 150;
      const before = watchdogs();
      await receiver.waitFor(() => watchdogs() >= before + 2);
      // No progress for longer than the watchdog interval: the pets stop.
      now += 1000;
      await sleep(150); // a tick may have been in flight
      const hung = watchdogs();
      await sleep(400);
      assert.equal(watchdogs(), hung, "a hung mode must not keep petting the watchdog");
      // Progress again: petting resumes.
      notifier.alive();
      await receiver.waitFor(() => watchdogs() >= hung + 1);
    } finally {
      await notifier.close();
    }
    const count = receiver.messages.length;
    await sleep(250);
    assert.equal(receiver.messages.length, count, "no watchdog after close");
  });
});

Deno.test("sd_notify: a mode that does not track liveness is petted while its event loop runs", async () => {
  await withReceiver(async (receiver, dir) => {
    let now = 0;
    const notifier = await SystemdNotifier.open({
      mode: "catalog",
      now: () => now,
      env: envOf({ NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: dir, WATCHDOG_USEC: "100000" }),
    });
    try {
      notifier.ready();
      now += 60_000;
      await receiver.waitFor((m) => m.filter((x) => x === "WATCHDOG=1").length >= 3);
    } finally {
      await notifier.close();
    }
  });
});

Deno.test("sd_notify: a missing NOTIFY_SOCKET target is logged once and never fails the mode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-notify-" });
  const errors: string[] = [];
  const logger = {
    level: "info" as const,
    debug() {},
    info() {},
    warn() {},
    error(message: string) {
      errors.push(message);
    },
    child() {
      return logger;
    },
  };
  try {
    const notifier = await SystemdNotifier.open({
      mode: "consume",
      logger,
      env: envOf({ NOTIFY_SOCKET: join(dir, "gone"), RUNTIME_DIRECTORY: dir }),
    });
    notifier.ready();
    notifier.status("x");
    notifier.stopping();
    await notifier.close();
    assert.deepEqual(errors, ["sd_notify message not delivered"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sd_notify: a client socket that cannot be bound is one clear error", async () => {
  await assert.rejects(
    SystemdNotifier.open({
      mode: "consume",
      env: envOf({ NOTIFY_SOCKET: "/run/systemd/notify", RUNTIME_DIRECTORY: "/nonexistent/dir" }),
    }),
    /Cannot bind the sd_notify socket \/nonexistent\/dir\/notify.sock/,
  );
});

Deno.test("sd_notify: notifyPermissionFlags() are enough for Deno's permission checks, and needed", async () => {
  await withReceiver(async (receiver, dir) => {
    const script = join(dir, "notify_child.ts");
    const module = new URL("./systemd_notify.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { SystemdNotifier } from ${JSON.stringify(module)};
const log = (m: string, f?: unknown) => console.error(m, JSON.stringify(f));
const logger = { level: "info", debug() {}, info() {}, warn: log, error: log, child() { return logger; } };
const notifier = await SystemdNotifier.open({ mode: "consume", logger: logger as never });
notifier.ready("child");
await notifier.close();
`,
    );
    const client = join(dir, "notify.sock");
    const run = async (flags: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--no-config",
          "--allow-env=NOTIFY_SOCKET,RUNTIME_DIRECTORY,WATCHDOG_USEC",
          ...flags,
          script,
        ],
        env: { NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    const flags = notifyPermissionFlags(client, receiver.path);
    const granted = await run(flags);
    assert.equal(granted.code, 0, granted.stderr);
    await receiver.waitFor((m) => m.includes("READY=1\nSTATUS=child"));
    // Each flag is needed: without it the bind fails or READY is lost.
    for (const [i, flag] of flags.entries()) {
      const before = receiver.messages.length;
      const result = await run(flags.filter((_, j) => j !== i));
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        result.code !== 0 || /sd_notify message not delivered/.test(result.stderr),
        `works without ${flag}: ${result.stderr}`,
      );
      assert.equal(receiver.messages.length, before, `READY arrived without ${flag}`);
    }
  });
});
