/**
 * The shipped bundle for end-to-end tests: built once per test module with `scripts/build.ts
 * bundle`, copied into a clean temp folder, and run through its launcher with an empty DENO_DIR,
 * a throwaway HOME and no environment beyond what the test passes.
 */
import { join } from "node:path";
import { REPO_ROOT } from "./helpers.ts";

export interface CleanBundle extends AsyncDisposable {
  /** The clean folder: app/ (the artifact), home/, deno-dir/ (empty at first). */
  readonly root: string;
  readonly app: string;
  readonly home: string;
  readonly denoDir: string;
}

export interface ArtifactResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let built: Promise<void> | undefined;

/** `deno task bundle`, once per test module (a few seconds). */
function buildBundle(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", join(REPO_ROOT, "scripts", "build.ts"), "bundle"],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`bundle build failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  })();
  return built;
}

/** A fresh copy of dist/bundle in a clean folder; `await using` removes it (≈ 100 MB) after. */
export async function cleanBundle(): Promise<CleanBundle> {
  await buildBundle();
  const root = await Deno.makeTempDir({ prefix: "cryptopipe-artifact-" });
  const app = join(root, "app");
  const home = join(root, "home");
  const denoDir = join(root, "deno-dir");
  for (const dir of [app, home, denoDir]) await Deno.mkdir(dir);
  for (const file of ["cryptopipe", "cryptopipe.js", "deno"]) {
    const from = join(REPO_ROOT, "dist", "bundle", file);
    // A hard link where /tmp and the checkout share a file system: a copy without the 96 MB.
    await Deno.link(from, join(app, file)).catch(() => Deno.copyFile(from, join(app, file)));
  }
  await Deno.chmod(join(app, "cryptopipe"), 0o755);
  await Deno.chmod(join(app, "deno"), 0o755);
  return {
    root,
    app,
    home,
    denoDir,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** Only what the artifact needs: no developer CRYPTOPIPE_*, AWS_* or DENO_* leaks in. */
export function artifactEnv(
  bundle: CleanBundle,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: bundle.home,
    DENO_DIR: bundle.denoDir,
    NO_COLOR: "1",
    // Text logs, as on a terminal (tests/helpers.ts childEnv): the tests match `error:` lines.
    CRYPTOPIPE_LOG__FORMAT: "text",
    ...extra,
  };
}

/** Runs `app/cryptopipe ARGS` (the launcher) in `cwd` (default: the clean folder). */
export async function runArtifact(
  bundle: CleanBundle,
  args: string[],
  extra: Record<string, string> = {},
  cwd = bundle.root,
): Promise<ArtifactResult> {
  const out = await new Deno.Command(join(bundle.app, "cryptopipe"), {
    args,
    env: artifactEnv(bundle, extra),
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** npm packages the runtime fetched into DENO_DIR: none, for a self-contained bundle. */
export async function downloadedPackages(bundle: CleanBundle): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(bundle.denoDir, "npm"))) found.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

/** A long-running launcher child (produce, consume): output drained as it comes. */
export interface ArtifactProcess extends AsyncDisposable {
  readonly stderr: () => string;
  /** SIGTERM, then the exit code once the output is read to its end. */
  readonly stop: () => Promise<number>;
}

export function spawnArtifact(
  bundle: CleanBundle,
  args: string[],
  extra: Record<string, string> = {},
  cwd = bundle.root,
): ArtifactProcess {
  const child = new Deno.Command(join(bundle.app, "cryptopipe"), {
    args,
    env: artifactEnv(bundle, extra),
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const { code } = await status;
    await drained;
    return code;
  };
  return {
    stderr: () => stderr,
    stop,
    [Symbol.asyncDispose]: async () => {
      if (!exited) child.kill("SIGKILL");
      await status;
      await drained.catch(() => {});
    },
  };
}
