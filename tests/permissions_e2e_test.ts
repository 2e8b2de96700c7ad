/**
 * Each mode's permission set (src/permissions.ts) against forbidden actions. The sets are the
 * ones the bundle's launcher prints for a real config (`--print-permissions`); a small probe
 * script run under exactly that set tries one action and reports whether the sandbox allowed
 * it. Every denial is paired with a nearby allowed action, so a set that forbids everything
 * fails too. One real run shows the clear error: consume given a broker name that is not the
 * broker's advertised listener. The README's table is checked against the code.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CleanBundle, cleanBundle, runArtifact } from "./artifact.ts";
import { baseToml, REPO_ROOT, testBrokers, uniqueName, workspace } from "./helpers.ts";
import { artifactEnv } from "./artifact.ts";
import { normalizedTable, permissionTableMarkdown } from "../scripts/permission_table.ts";

const PROBE = `
const [action, target] = Deno.args;
try {
  if (action === "write") await Deno.writeTextFile(target, "x");
  else if (action === "read") await Deno.readTextFile(target);
  else if (action === "net") {
    const [hostname, port] = target.split(":");
    (await Deno.connect({ hostname, port: Number(port) })).close();
  } else if (action === "run") await new Deno.Command(target).output();
  else if (action === "ffi") Deno.dlopen(target, {});
  else if (action === "env") {
    console.log("env " + (Deno.env.get(target) ?? "unset"));
    Deno.exit(0);
  }
  console.log("allowed");
} catch (error) {
  console.log(error instanceof Deno.errors.NotCapable ? "denied: " + error.message : "failed: " + error.name + ": " + error.message);
}
`;

interface Probe {
  (action: string, target: string): Promise<string>;
}

/** The set the launcher derives for these arguments, and a probe that runs under it. */
async function probeFor(bundle: CleanBundle, args: string[], cwd: string): Promise<Probe> {
  const printed = await runArtifact(bundle, [...args, "--print-permissions"], {}, cwd);
  assert.equal(printed.code, 0, printed.stderr);
  const flags = printed.stdout.trim().split("\n");
  assert.ok(
    !flags.some((f) => /^--allow-(all|run|ffi)\b/.test(f) || f === "--allow-net"),
    flags.join(" "),
  );
  const probe = join(bundle.root, "probe.js");
  await Deno.writeTextFile(probe, PROBE);
  return async (action, target) => {
    const out = await new Deno.Command(join(bundle.app, "deno"), {
      args: ["run", "--cached-only", "--no-config", "--no-prompt", ...flags, probe, action, target],
      env: artifactEnv(bundle),
      clearEnv: true,
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(text, new TextDecoder().decode(out.stderr));
    return text;
  };
}

const denied = (kind: string) => new RegExp(`^denied: Requires ${kind} access to`);

Deno.test("permissions e2e: produce writes no file, reads only its config and replay file, opens only its brokers and sources, runs nothing", async () => {
  await using bundle = await cleanBundle();
  const { dir, config } = await workspace(baseToml(
    uniqueName("perm"),
    uniqueName("group"),
    `
[sources.replayed]
type = "replay"
path = "sample.csv"

[sources.cb]
type = "coinbase"
symbols = ["BTC-USD"]
`,
  ));
  await Deno.copyFile(join(REPO_ROOT, "examples", "ticker_sample.csv"), join(dir, "sample.csv"));
  const probe = await probeFor(bundle, ["--mode", "produce", "--config", config], dir);
  assert.match(await probe("write", join(dir, "out.txt")), denied("write"));
  assert.match(await probe("write", join(dir, "sample.csv")), denied("write"));
  assert.equal(await probe("read", join(dir, "sample.csv")), "allowed");
  assert.equal(await probe("read", config), "allowed");
  assert.match(await probe("read", "/etc/passwd"), denied("read"));
  assert.equal(await probe("net", testBrokers()), "allowed");
  assert.match(await probe("net", "example.com:443"), denied("net"));
  // The source's host is allowed (the sandbox says yes before DNS fails or connects here).
  assert.doesNotMatch(await probe("net", "api.exchange.coinbase.com:443"), /^denied/);
  assert.match(await probe("net", "api.kraken.com:443"), denied("net"));
  assert.match(await probe("run", "/bin/true"), denied("run"));
  assert.match(await probe("ffi", "libc.so.6"), denied("ffi"));
  assert.equal(await probe("env", "PATH"), "env unset", "names outside the list read as unset");
});

Deno.test("permissions e2e: consume writes inside its lake only and opens only the brokers", async () => {
  await using bundle = await cleanBundle();
  const { dir, config, lake } = await workspace(baseToml(uniqueName("perm"), uniqueName("group")));
  await Deno.mkdir(lake, { recursive: true });
  const probe = await probeFor(bundle, ["--mode", "consume", "--config", config], dir);
  assert.equal(await probe("write", join(lake, "probe.txt")), "allowed");
  assert.match(await probe("write", join(dir, "outside.txt")), denied("write"));
  assert.match(await probe("write", config), denied("write"));
  assert.match(await probe("read", join(REPO_ROOT, "deno.json")), denied("read"));
  assert.equal(await probe("net", testBrokers()), "allowed");
  assert.match(await probe("net", "s3.us-east-1.amazonaws.com:443"), denied("net"));
  assert.match(await probe("net", "169.254.169.254:80"), denied("net"), "no IMDS for a local lake");
});

Deno.test("permissions e2e: catalog (local) reads and writes its lake only; query writes only --output", async () => {
  await using bundle = await cleanBundle();
  const { dir, config, lake } = await workspace(baseToml(uniqueName("perm"), uniqueName("group")));
  await Deno.mkdir(lake, { recursive: true });
  await Deno.writeTextFile(join(dir, "elsewhere.txt"), "x");
  const catalog = await probeFor(bundle, ["--mode", "catalog", "--config", config], dir);
  assert.equal(await catalog("write", join(lake, "probe.txt")), "allowed");
  assert.equal(await catalog("read", join(lake, "probe.txt")), "allowed");
  assert.match(await catalog("read", join(dir, "elsewhere.txt")), denied("read"));
  assert.match(await catalog("read", "/etc/passwd"), denied("read"));

  const query = await probeFor(
    bundle,
    ["--mode", "query", "--config", config, "--named", "latest", "--output", "result file.csv"],
    dir,
  );
  assert.equal(await query("write", join(dir, "result file.csv")), "allowed");
  assert.match(await query("write", join(dir, "other.csv")), denied("write"));
  assert.match(await query("write", join(lake, "probe.txt")), denied("write"));
  assert.match(await query("net", testBrokers()), denied("net"));
});

Deno.test("permissions e2e: consume given a broker name that is not the advertised listener fails with one clear line naming the host and exit 4", async () => {
  await using bundle = await cleanBundle();
  const port = testBrokers().split(":").at(-1);
  // The test broker advertises 127.0.0.1; the config names it as localhost.
  const { dir, config } = await workspace(
    baseToml(uniqueName("perm"), uniqueName("group")).replace(
      /brokers = \[[^\]]*\]/,
      `brokers = ["localhost:${port}"]`,
    ).replace("retries = 3", "retries = 0"),
  );
  const consumed = await runArtifact(
    bundle,
    ["--mode", "consume", "--config", config, "--until-idle"],
    {},
    dir,
  );
  // A sandbox refusal: exit 4 (as src/cli.ts gives any NotCapable), not 3 (retryable), and
  // one line of ours, not Deno's "Uncaught (in promise) NotCapable" with a stack.
  assert.equal(consumed.code, 4, consumed.stderr);
  assert.equal(consumed.stderr.trim().split("\n").length, 1, consumed.stderr);
  assert.doesNotMatch(consumed.stderr, /Uncaught|^\s+at /m);
  assert.match(
    consumed.stderr.trim(),
    new RegExp(
      `^error: Cannot .* at localhost:${port}: not permitted to connect to 127\\.0\\.0\\.1:${port} \\(bus\\.brokers does not name it; a broker advertises it: list that address in bus\\.brokers\\)$`,
    ),
  );
});

Deno.test("permissions: the README's per-mode table is the one the code derives", async () => {
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  const start = readme.indexOf("<!-- permissions-table:start -->");
  const end = readme.indexOf("<!-- permissions-table:end -->");
  assert.ok(start >= 0 && end > start, "README.md has the permissions table markers");
  const inReadme = readme.slice(start, end).split("\n").slice(1).join("\n");
  assert.equal(
    normalizedTable(inReadme),
    normalizedTable(permissionTableMarkdown()),
    "regenerate: deno run -A scripts/permission_table.ts",
  );
});
