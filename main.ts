/**
 * cryptopipe's entry point: the only place that exits the process.
 * See `cryptopipe --help` or README.md.
 */
import { denoIo, runCli } from "./src/cli.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, { ...denoIo, forceExit: () => Deno.exit(130) });
  Deno.exit(code);
}
