/**
 * scripts/install.sh into a temporary root (--root, so no systemctl): what lands where with
 * which mode, that a second run changes nothing, that a config and secrets already on the host
 * are kept, and upgrades between a bundle and a binary. The artifact is a stand-in script:
 * building the real one is `deno task compile`'s job, and install.sh only copies it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { REPO_ROOT } from "./helpers.ts";
import { fakeBinary, runInstall } from "./installer.ts";

interface Entry {
  readonly mode: string;
  readonly sha256?: string;
  readonly mtime?: number;
}

/** Every path under `root` with its mode, content hash and mtime. */
async function snapshot(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path);
      const mode = (info.mode! & 0o7777).toString(8);
      if (entry.isDirectory) {
        out[relative(root, path) + "/"] = { mode };
        await walk(path);
      } else {
        const sha256 = createHash("sha256").update(await Deno.readFile(path)).digest("hex");
        out[relative(root, path)] = { mode, sha256, mtime: info.mtime?.getTime() };
      }
    }
  };
  await walk(root);
  return out;
}

async function withTemp(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-install-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("install.sh: puts the binary, config, examples and units in place with the right modes", async () => {
  await withTemp(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const binary = await fakeBinary(dir);
    const result = await runInstall(["--root", root, binary]);
    assert.equal(result.code, 0, result.stderr);
    const tree = await snapshot(root);
    const modes = Object.fromEntries(Object.entries(tree).map(([p, e]) => [p, e.mode]));
    assert.deepEqual(modes, {
      "opt/": "755",
      "opt/cryptopipe/": "755",
      "opt/cryptopipe/cryptopipe": "755",
      "opt/cryptopipe/deploy/": "755",
      "opt/cryptopipe/deploy/cryptopipe.env.example": "644",
      "opt/cryptopipe/deploy/credentials.conf.example": "644",
      "etc/": "755",
      "etc/cryptopipe/": "755",
      "etc/cryptopipe/cryptopipe.toml": "644",
      "etc/cryptopipe/cryptopipe.example.toml": "644",
      "etc/cryptopipe/credentials/": "700",
      "etc/systemd/": "755",
      "etc/systemd/system/": "755",
      "etc/systemd/system/cryptopipe@.service": "644",
      "etc/systemd/system/cryptopipe-catalog.service": "644",
      "etc/systemd/system/cryptopipe-catalog.timer": "644",
      "etc/systemd/system/cryptopipe-upkeep.service": "644",
      "etc/systemd/system/cryptopipe-upkeep.timer": "644",
    });
    assert.equal(
      await Deno.readTextFile(join(root, "opt/cryptopipe/cryptopipe")),
      await Deno.readTextFile(binary),
    );
    const example = await Deno.readTextFile(join(REPO_ROOT, "cryptopipe.example.toml"));
    assert.equal(await Deno.readTextFile(join(root, "etc/cryptopipe/cryptopipe.toml")), example);
    for (const unit of ["cryptopipe@.service", "cryptopipe-catalog.service"]) {
      assert.equal(
        await Deno.readTextFile(join(root, "etc/systemd/system", unit)),
        await Deno.readTextFile(join(REPO_ROOT, "deploy/systemd", unit)),
      );
    }
    assert.match(result.stdout, /Next steps:/);
    assert.doesNotMatch(result.stdout, /nothing changed/);
  });
});

Deno.test("install.sh: idempotent; the host's config and secrets are kept; an upgrade replaces only the binary", async () => {
  await withTemp(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const binary = await fakeBinary(dir);
    assert.equal((await runInstall(["--root", root, binary])).code, 0);
    const first = await snapshot(root);
    const again = await runInstall(["--root", root, binary]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing changed/);
    assert.deepEqual(await snapshot(root), first, "a second run must not touch anything");

    // The operator's own config and a secret.
    const config = join(root, "etc/cryptopipe/cryptopipe.toml");
    const secret = join(root, "etc/cryptopipe/credentials/coingecko_key");
    await Deno.writeTextFile(config, '# mine\n[bus]\nbrokers = ["10.0.0.5:9092"]\n');
    await Deno.writeTextFile(secret, "s3cr3t\n", { mode: 0o600 });
    await Deno.chmod(secret, 0o600);
    const upgrade = await fakeBinary(dir, "cryptopipe v2");
    const upgraded = await runInstall(["--root", root, upgrade]);
    assert.equal(upgraded.code, 0, upgraded.stderr);
    assert.match(upgraded.stdout, /installed\s+\S+\/opt\/cryptopipe\/cryptopipe\n/);
    assert.match(upgraded.stdout, /kept\s+\S+\/etc\/cryptopipe\/cryptopipe.toml/);
    assert.match(await Deno.readTextFile(config), /^# mine/);
    assert.equal(await Deno.readTextFile(secret), "s3cr3t\n");
    assert.equal((await Deno.stat(secret)).mode! & 0o777, 0o600);
    assert.doesNotMatch(upgraded.stdout + upgraded.stderr, /s3cr3t/);
    const after = await snapshot(root);
    const differing = Object.keys(after).filter((p) =>
      JSON.stringify(after[p]) !== JSON.stringify(first[p])
    ).sort();
    assert.deepEqual(differing, [
      "etc/cryptopipe/credentials/coingecko_key",
      "etc/cryptopipe/cryptopipe.toml",
      "opt/cryptopipe/cryptopipe",
    ]);
    // A mode changed by hand is put back.
    await Deno.chmod(join(root, "opt/cryptopipe/cryptopipe"), 0o700);
    const fixed = await runInstall(["--root", root, upgrade]);
    assert.match(fixed.stdout, /installed\s+\S+\/opt\/cryptopipe\/cryptopipe\n/);
    assert.equal((await Deno.stat(join(root, "opt/cryptopipe/cryptopipe"))).mode! & 0o777, 0o755);
  });
});

Deno.test("install.sh: a bundle installs its three files; a binary later replaces them", async () => {
  await withTemp(async (dir) => {
    const root = join(dir, "root");
    const bundle = join(dir, "bundle");
    await Deno.mkdir(root);
    await Deno.mkdir(bundle);
    await Deno.writeTextFile(join(bundle, "cryptopipe"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(bundle, "cryptopipe.js"), "console.log(1)\n");
    await Deno.writeTextFile(join(bundle, "deno"), "ELF", { mode: 0o755 });
    const result = await runInstall(["--root", root, bundle]);
    assert.equal(result.code, 0, result.stderr);
    const opt = join(root, "opt/cryptopipe");
    assert.equal((await Deno.stat(join(opt, "cryptopipe"))).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(join(opt, "cryptopipe.js"))).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(join(opt, "deno"))).mode! & 0o777, 0o755);
    assert.match((await runInstall(["--root", root, bundle])).stdout, /nothing changed/);

    const binary = await fakeBinary(dir);
    const switched = await runInstall(["--root", root, binary]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.match(switched.stdout, /removed\s+\S+cryptopipe.js/);
    assert.deepEqual(
      [...Deno.readDirSync(opt)].map((e) => e.name).sort(),
      ["cryptopipe", "deploy"],
    );
  });
});

Deno.test("install.sh: a missing or incomplete artifact and unknown options are one line and exit 2; --help is exit 0", async () => {
  await withTemp(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const cases: Array<[string[], RegExp]> = [
      [["--root", root, join(dir, "nope")], /artifact .*nope not found/],
      [["--root", root, "--bogus"], /unknown option --bogus/],
      [["--root", join(dir, "missing-root"), join(dir, "x")], /--root .*: no such directory/],
      [
        ["--root", root, "--enable", "query"],
        /--enable query: use produce, consume, catalog or upkeep/,
      ],
    ];
    const partial = join(dir, "partial");
    await Deno.mkdir(partial);
    await Deno.writeTextFile(join(partial, "cryptopipe"), "#!/bin/sh\n");
    cases.push([["--root", root, partial], /bundle .*partial has no cryptopipe.js/]);
    for (const [args, message] of cases) {
      const result = await runInstall(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
    assert.deepEqual([...Deno.readDirSync(root)], [], "nothing installed on a failure");
    const help = await runInstall(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--root DIR +install under DIR/);
  });
});

Deno.test("README's EC2 guide: every repository path and deno task it names exists", async () => {
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  const start = readme.indexOf("## Running on EC2");
  assert.ok(start >= 0, "README has no Running on EC2 section");
  const guide = readme.slice(start, readme.indexOf("\n## ", start + 3));
  // Paths in the checkout, not the installed ones (/opt/cryptopipe/deploy/…).
  const paths = new Set(
    [...guide.matchAll(/(?<![\w/.-])((?:scripts|deploy|tests|src)\/[\w.@/-]*[\w])/g)].map((m) =>
      m[1]
    ),
  );
  paths.add("cryptopipe.example.toml");
  assert.ok(paths.size >= 8, [...paths].join(", "));
  for (const path of paths) {
    await Deno.stat(join(REPO_ROOT, path)).catch(() => assert.fail(`README names ${path}`));
  }
  const tasks = Object.keys(
    JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json"))).tasks,
  );
  const named = new Set([...guide.matchAll(/deno task ([\w:-]+)/g)].map((m) => m[1]));
  assert.ok(named.has("compile") && named.has("bundle"));
  for (const task of named) {
    assert.ok(tasks.includes(task), `README names deno task ${task}`);
  }
  // Every install.sh option the guide uses is one install.sh knows.
  const script = await Deno.readTextFile(join(REPO_ROOT, "scripts", "install.sh"));
  for (
    const option of new Set([...guide.matchAll(/install\.sh[^\n]*?(--[a-z-]+)/g)].map((m) => m[1]))
  ) {
    assert.ok(script.includes(`    ${option})`), `install.sh has no ${option}`);
  }
  for (const option of ["--enable", "--root", "--no-systemctl"]) {
    assert.ok(guide.includes(option), `the guide documents ${option}`);
  }
});
