/** Running scripts/install.sh from tests, with a stand-in artifact. */
import { join } from "node:path";
import { REPO_ROOT } from "./helpers.ts";

export const INSTALL_SH = join(REPO_ROOT, "scripts", "install.sh");

export interface InstallResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run install.sh with these arguments (the environment keeps only PATH). */
export async function runInstall(args: string[]): Promise<InstallResult> {
  const out = await new Deno.Command("sh", {
    args: [INSTALL_SH, ...args],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A stand-in for the compiled binary: executable, with recognisable content. */
export async function fakeBinary(dir: string, content = "cryptopipe v1"): Promise<string> {
  const path = join(dir, `cryptopipe-${crypto.randomUUID().slice(0, 6)}`);
  await Deno.writeTextFile(path, `#!/bin/sh\necho "${content}"\n`, { mode: 0o755 });
  return path;
}
