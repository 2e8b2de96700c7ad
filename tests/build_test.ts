/**
 * `deno task compile` where the denort runtime cannot be had (the test machines have none):
 * one clear line and a non-zero exit, before any work. Downloads are made to fail on any machine
 * by a proxy on a closed loopback port, so the test means the same with or without internet.
 * A pre-seeded cache entry is found (deno compile then tries to unpack it: the entry here is
 * not a real runtime, so that fails too, with deno's reason), and DENORT_BIN set to the full
 * deno CLI is refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bakedPermissions } from "../scripts/build.ts";
import { cleanBundle } from "./artifact.ts";
import { REPO_ROOT } from "./helpers.ts";

const NO_DOWNLOADS = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9" };

async function compile(env: Record<string, string>, args: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(REPO_ROOT, "scripts", "build.ts"), "compile", ...args],
    cwd: REPO_ROOT,
    env: { ...NO_DOWNLOADS, NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/**
 * A DENO_DIR without any denort that shares the real one's npm packages and esbuild (the bundle
 * step needs those, not the network).
 */
async function denoDir(): Promise<string> {
  await using _built = await cleanBundle(); // a bundle build puts esbuild into the real DENO_DIR
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-deno-dir-" });
  const home = Deno.env.get("HOME") ?? "/root";
  const real = Deno.env.get("DENO_DIR") ?? join(home, ".cache", "deno");
  await Deno.symlink(join(real, "npm"), join(dir, "npm"));
  await Deno.mkdir(join(dir, "dl"));
  for await (const entry of Deno.readDir(join(real, "dl"))) {
    if (entry.name.startsWith("esbuild")) {
      await Deno.symlink(join(real, "dl", entry.name), join(dir, "dl", entry.name));
    }
  }
  return dir;
}

Deno.test("compile: without a denort runtime, one clear line naming the target, the cache path and the fix; exit 1", async () => {
  const dir = await denoDir();
  const result = await compile({ DENO_DIR: dir, DENORT_BIN: "" });
  assert.equal(result.code, 1);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(
    lines[0],
    /^error: cannot compile for x86_64-unknown-linux-gnu: the denort runtime is not available \(DENORT_BIN unset, not cached at .*\/dl\/release\/v2\.9\.6\/denort-x86_64-unknown-linux-gnu\.zip, and https:\/\/dl\.deno\.land\/.* is unreachable: .*\); pre-seed that zip or set DENORT_BIN/,
  );
  assert.ok(lines[0].includes(dir), "names the DENO_DIR cache path it looked at");
  await assert.rejects(Deno.stat(join(REPO_ROOT, "dist", "cryptopipe-x86_64-unknown-linux-gnu")));
});

Deno.test("compile: a runtime pre-seeded in the Deno cache is used (this fake one fails to unpack), and only for its target", async () => {
  const dir = await denoDir();
  const release = join(dir, "dl", "release", "v2.9.6");
  await Deno.mkdir(release, { recursive: true });
  await Deno.writeTextFile(join(release, "denort-x86_64-unknown-linux-gnu.zip"), "not a zip");
  const result = await compile({ DENO_DIR: dir }, ["--target", "x86_64-unknown-linux-gnu"]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr.trim(),
    /^error: deno compile for x86_64-unknown-linux-gnu failed: .*Failed to unpack archive/,
  );
  // The aarch64 runtime is not seeded: the same clear line as with nothing at all.
  const arm = await compile({ DENO_DIR: dir, DENORT_BIN: join(dir, "denort") }, [
    "--target",
    "aarch64-unknown-linux-gnu",
  ]);
  assert.equal(arm.code, 1);
  assert.match(
    arm.stderr,
    /cannot compile for aarch64-unknown-linux-gnu: the denort runtime is not available \(DENORT_BIN is for the host target only/,
  );
});

Deno.test("compile: DENORT_BIN pointing at the full deno CLI is refused (it would build a REPL)", async () => {
  const result = await compile({ DENORT_BIN: Deno.execPath() }, [
    "--target",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr.trim(),
    /^error: DENORT_BIN=.* is the full deno CLI, not the denort runtime/,
  );
});

Deno.test("compile: the baked set is the union of the four modes for the installed config, secrets unread", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-baked-" });
  const config = join(dir, "prod.toml");
  await Deno.writeTextFile(
    config,
    `
[bus]
brokers = ["kafka-1.internal:9092"]
[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD"]
api_key_credential = "coingecko-key"
[store]
path = "lake"
[metrics]
listen = "127.0.0.1:9464"
`,
  );
  const flags = bakedPermissions(config, "/etc/cryptopipe/cryptopipe.toml", "/var/lib/cryptopipe");
  const list = (kind: string) =>
    flags.find((f) => f.startsWith(`--allow-${kind}=`))?.split("=")[1].split(",");
  assert.deepEqual(list("net"), [
    "127.0.0.1", // any port: produce and consume each serve metrics on their own
    "api.coingecko.com:443",
    "kafka-1.internal:9092",
    "unix:/run/cryptopipe/catalog/notify.sock",
    "unix:/run/cryptopipe/consume/notify.sock",
    "unix:/run/cryptopipe/produce/notify.sock",
    "unix:/run/cryptopipe/query/notify.sock",
    "unix:/run/systemd/notify",
  ]);
  assert.deepEqual(list("read"), [
    "/etc/cryptopipe/cryptopipe.toml",
    "/run/credentials",
    "/run/cryptopipe/catalog/notify.sock",
    "/run/cryptopipe/consume/notify.sock",
    "/run/cryptopipe/produce/notify.sock",
    "/run/cryptopipe/query/notify.sock",
    "/var/lib/cryptopipe/lake",
  ]);
  assert.deepEqual(list("write"), [
    "/run/cryptopipe/catalog/notify.sock",
    "/run/cryptopipe/consume/notify.sock",
    "/run/cryptopipe/produce/notify.sock",
    "/run/cryptopipe/query/notify.sock",
    "/run/systemd/notify",
    "/var/lib/cryptopipe/lake",
  ]);
  assert.ok(flags.includes("--ignore-env") && flags.includes("--unstable-net"));
});
