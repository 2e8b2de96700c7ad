/**
 * The shipped systemd units (deploy/systemd/), checked with systemd's own tools:
 * - `systemd-analyze verify` on every unit as installed by scripts/install.sh into a temporary
 *   root. verify exits 0 even for a misspelled directive (it only prints a warning), so the
 *   check fails on ANY output; it also complains when ExecStart's executable is missing, so the
 *   root holds one (a stand-in script: verify checks that it is executable, not what it is).
 *   With --root, verify resolves every unit inside the root, so the host's own units
 *   (network-online.target, sysinit.target, …) are copied in beside ours.
 * - `systemd-analyze security --offline=yes`: each service's exposure score must not rise above
 *   the one recorded in README.md ("Running on EC2").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers.ts";
import { fakeBinary, runInstall } from "./installer.ts";

const UNITS_DIR = join(REPO_ROOT, "deploy", "systemd");
/** What to verify: the template for each long-running mode, and the catalog and upkeep pairs. */
const VERIFIED = [
  "cryptopipe@produce.service",
  "cryptopipe@consume.service",
  "cryptopipe-catalog.service",
  "cryptopipe-catalog.timer",
  "cryptopipe-upkeep.service",
  "cryptopipe-upkeep.timer",
];
const HOST_UNITS = ["/usr/lib/systemd/system", "/lib/systemd/system"];

async function analyze(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: (decode(out.stdout) + decode(out.stderr)).trim() };
}

/** verify inside `root`: passes only with exit 0 AND no output at all. */
async function verifyInRoot(root: string, units: string[]): Promise<string | undefined> {
  const { code, output } = await analyze(["verify", `--root=${root}`, ...units]);
  if (code !== 0 || output !== "") return `exit ${code}: ${output || "(no output)"}`;
  return undefined;
}

/** A temp root with the units installed by install.sh, an executable at ExecStart, and the host's units. */
async function installedRoot(dir: string): Promise<string> {
  const root = join(dir, "root");
  await Deno.mkdir(root);
  const result = await runInstall(["--root", root, await fakeBinary(dir)]);
  assert.equal(result.code, 0, result.stderr);
  const host = HOST_UNITS.find((d) => {
    try {
      return Deno.statSync(join(d, "sysinit.target")).isFile;
    } catch {
      return false;
    }
  });
  assert.ok(host, `no systemd unit directory with sysinit.target in ${HOST_UNITS.join(", ")}`);
  await Deno.mkdir(join(root, "usr/lib/systemd"), { recursive: true });
  const copy = await new Deno.Command("cp", {
    args: ["-a", host, join(root, "usr/lib/systemd/system")],
  }).output();
  assert.equal(copy.code, 0, new TextDecoder().decode(copy.stderr));
  // ExecReload= runs the host's kill: it must be in place too.
  await Deno.mkdir(join(root, "bin"), { recursive: true });
  await Deno.copyFile(await Deno.realPath("/bin/kill"), join(root, "bin/kill"));
  await Deno.chmod(join(root, "bin/kill"), 0o755);
  return root;
}

async function withTemp(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-units-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("systemd units: systemd-analyze verify prints nothing for every shipped unit, also with the credentials drop-in", async () => {
  await withTemp(async (dir) => {
    const root = await installedRoot(dir);
    assert.equal(await verifyInRoot(root, VERIFIED), undefined);
    // The LoadCredential= example as the README installs it.
    for (const unit of ["cryptopipe@.service", "cryptopipe-catalog.service"]) {
      const dropIn = join(root, "etc/systemd/system", `${unit}.d`);
      await Deno.mkdir(dropIn);
      await Deno.copyFile(
        join(UNITS_DIR, "credentials.conf.example"),
        join(dropIn, "credentials.conf"),
      );
    }
    assert.equal(await verifyInRoot(root, VERIFIED), undefined);
    // ...and the instances really pick the template's drop-in up.
    const shown = await analyze([
      "cat-config",
      `--root=${root}`,
      "systemd/system/cryptopipe@.service",
    ]);
    assert.match(shown.output, /LoadCredential=coingecko_key:/);
  });
});

Deno.test("systemd units: the verify check fails on a misspelled directive (exit 0, one warning) and on a missing executable", async () => {
  await withTemp(async (dir) => {
    const root = await installedRoot(dir);
    const template = join(root, "etc/systemd/system/cryptopipe@.service");
    const good = await Deno.readTextFile(template);
    await Deno.writeTextFile(template, good.replace("Type=notify\n", "Type=notifyy\n"));
    const { code, output } = await analyze([
      "verify",
      `--root=${root}`,
      "cryptopipe@consume.service",
    ]);
    assert.equal(code, 0, "systemd-analyze verify exits 0 here: only the output shows the error");
    assert.match(output, /Failed to parse service type/);
    assert.match(
      (await verifyInRoot(root, ["cryptopipe@consume.service"])) ?? "",
      /Failed to parse service type/,
    );
    await Deno.writeTextFile(template, good.replace("RestartSec=5s\n", "RestartSecs=5s\n"));
    assert.match(
      (await verifyInRoot(root, ["cryptopipe@consume.service"])) ?? "",
      /Unknown key 'RestartSecs' in section \[Service\]/,
    );
    await Deno.writeTextFile(template, good);
    await Deno.remove(join(root, "opt/cryptopipe/cryptopipe"));
    assert.match(
      (await verifyInRoot(root, ["cryptopipe@consume.service"])) ?? "",
      /\/opt\/cryptopipe\/cryptopipe is not executable/,
    );
  });
});

/** `| `unit` | 3.0 OK |` rows of README.md's score table. */
async function recordedScores(): Promise<Map<string, number>> {
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  const scores = new Map<string, number>();
  for (const m of readme.matchAll(/^\| `(cryptopipe[^`]*\.service)`\s*\| (\d+\.\d) [A-Z]+/gm)) {
    scores.set(m[1], Number(m[2]));
  }
  return scores;
}

Deno.test("systemd units: the systemd-analyze security score of each service is at most the one in README.md", async () => {
  const recorded = await recordedScores();
  const services = [...Deno.readDirSync(UNITS_DIR)].map((e) => e.name).filter((n) =>
    n.endsWith(".service")
  ).sort();
  assert.deepEqual([...recorded.keys()].sort(), services, "README lists every shipped service");
  for (const service of services) {
    const { code, output } = await analyze([
      "security",
      "--offline=yes",
      join(UNITS_DIR, service),
    ]);
    assert.equal(code, 0, output);
    const score = /Overall exposure level for \S+: (\d+\.\d)/.exec(output)?.[1];
    assert.ok(score, `no score in:\n${output}`);
    assert.ok(
      Number(score) <= recorded.get(service)!,
      `${service}: ${score} is worse than the ${recorded.get(service)} in README.md`,
    );
  }
});

/** The [Service] lines from "# Hardening" to the next section. */
function hardening(unit: string): string[] {
  const start = unit.indexOf("# Hardening");
  assert.ok(start >= 0, "no # Hardening block");
  return unit.slice(start, unit.indexOf("\n[", start)).trim().split("\n");
}

Deno.test("systemd units: one hardening for every service, restarts that stop on a config error, never MemoryDenyWriteExecute, no secrets in ExecStart", async () => {
  const template = await Deno.readTextFile(join(UNITS_DIR, "cryptopipe@.service"));
  const catalog = await Deno.readTextFile(join(UNITS_DIR, "cryptopipe-catalog.service"));
  const upkeep = await Deno.readTextFile(join(UNITS_DIR, "cryptopipe-upkeep.service"));
  assert.deepEqual(hardening(catalog), hardening(template));
  assert.deepEqual(hardening(upkeep), hardening(template));
  assert.ok(template.split("\n").includes("ExecReload=/bin/kill -HUP $MAINPID"), "reload: SIGHUP");
  for (
    const line of [
      "Type=notify",
      "Restart=on-failure",
      "RestartPreventExitStatus=2",
      "WatchdogSec=60s",
      "StartLimitBurst=10",
      "RuntimeDirectory=cryptopipe/%i",
      "Environment=AWS_EC2_METADATA_V1_DISABLED=true",
      "ExecStart=/opt/cryptopipe/cryptopipe --mode %i --config /etc/cryptopipe/cryptopipe.toml",
    ]
  ) {
    assert.ok(template.split("\n").includes(line), `cryptopipe@.service lacks ${line}`);
  }
  for (
    const [name, unit] of [["template", template], ["catalog", catalog], ["upkeep", upkeep]]
  ) {
    for (
      const line of [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "DynamicUser=yes",
        "MemoryMax=1G",
      ]
    ) {
      assert.ok(unit.split("\n").includes(line), `${name} lacks ${line}`);
    }
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m, "V8's JIT needs W+X memory");
    const exec = unit.split("\n").filter((l) => l.startsWith("ExecStart="));
    assert.equal(exec.length, 1);
    assert.doesNotMatch(exec[0], /key|secret|password|token/i);
  }
});
