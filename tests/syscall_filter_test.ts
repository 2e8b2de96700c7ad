/**
 * The units' `SystemCallFilter=` with Deno: produce, consume (with sd_notify) and catalog run
 * under the same seccomp allow-list (tests/syscall_filter.ts, built from systemd's own group
 * definitions, EPERM for the rest) against the test broker and a local lake. A too-narrow filter
 * is shown to break Deno, so the filter is really applied.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NotifyReceiver } from "../src/systemd_notify_testing.ts";
import {
  baseToml,
  childEnv,
  lakeFiles,
  MAIN,
  REPO_ROOT,
  uniqueName,
  workspace,
} from "./helpers.ts";

const WRAPPER = join(REPO_ROOT, "tests", "syscall_filter.ts");

/** The unit's SystemCallFilter= lines as one list of words, as systemd combines them. */
async function unitFilter(): Promise<string> {
  const unit = await Deno.readTextFile(join(REPO_ROOT, "deploy/systemd/cryptopipe@.service"));
  const lines = unit.split("\n").filter((l) => l.startsWith("SystemCallFilter="));
  assert.ok(lines.length > 0, "the unit has no SystemCallFilter=");
  assert.ok(unit.includes("\nSystemCallErrorNumber=EPERM\n"), "the wrapper models EPERM");
  // A line starting with ~ denies every word on it.
  return lines.map((l) => l.slice("SystemCallFilter=".length)).map((v) =>
    v.startsWith("~") ? v.slice(1).split(/\s+/).map((w) => "~" + w).join(" ") : v
  ).join(" ");
}

function filtered(filter: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      WRAPPER,
      filter,
      "--",
      Deno.execPath(),
      "run",
      "--allow-all",
      "--config",
      join(REPO_ROOT, "deno.json"),
      MAIN,
      ...args,
    ],
    env: childEnv(env),
    clearEnv: true,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(filter: string, args: string[], env: Record<string, string> = {}) {
  const out = await filtered(filter, args, env).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("syscall filter: a filter without memory and thread calls stops Deno (the filter is applied)", async () => {
  const result = await run("@default @basic-io", ["--version"]);
  assert.notEqual(result.code, 0, result.stderr);
});

Deno.test("syscall filter: the spawned program inherits it: chown (in ~@privileged) fails with EPERM only under the filter", async () => {
  const file = await Deno.makeTempFile();
  try {
    const chown = (wrapped: boolean) => {
      const script = `Deno.chownSync(${JSON.stringify(file)}, Deno.uid(), Deno.gid())`;
      const deno = [Deno.execPath(), "eval", script];
      return new Deno.Command(wrapped ? Deno.execPath() : deno[0], {
        args: wrapped
          ? ["run", "--allow-all", WRAPPER, "@system-service ~@privileged", "--", ...deno]
          : deno.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
    };
    assert.equal((await chown(false)).code, 0);
    const denied = await chown(true);
    assert.notEqual(denied.code, 0);
    assert.match(new TextDecoder().decode(denied.stderr), /Operation not permitted/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("syscall filter: produce, consume with sd_notify and catalog work under the units' SystemCallFilter=", async () => {
  const filter = await unitFilter();
  const topic = uniqueName("seccomp");
  const ws = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD"]
rate_per_second = 500
seed = 3

[batch]
until_idle_secs = 2
`,
  ));
  const receiver = new NotifyReceiver(join(ws.dir, "systemd-notify"));
  try {
    const produced = await run(filter, [
      "--mode",
      "produce",
      "--config",
      ws.config,
      "--max-records",
      "300",
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /produce finished .*records=300/);
    const runtime = join(ws.dir, "run");
    await Deno.mkdir(runtime);
    const consumed = await run(
      filter,
      ["--mode", "consume", "--config", ws.config, "--until-idle"],
      { NOTIFY_SOCKET: receiver.path, RUNTIME_DIRECTORY: runtime, WATCHDOG_USEC: "10000000" },
    );
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.match(consumed.stderr, /consume finished .*rows=300 /);
    assert.ok(receiver.messages.some((m) => m.startsWith("READY=1")), consumed.stderr);
    assert.ok(receiver.messages.some((m) => m.startsWith("STOPPING=1")));
    assert.ok((await lakeFiles(ws.lake, ".parquet")).length > 0);
    const cataloged = await run(filter, ["--mode", "catalog", "--config", ws.config]);
    assert.equal(cataloged.code, 0, cataloged.stderr);
    assert.doesNotMatch(
      produced.stderr + consumed.stderr + cataloged.stderr,
      /EPERM|not permitted/i,
    );
  } finally {
    await receiver.close();
    await Deno.remove(ws.dir, { recursive: true });
  }
});
