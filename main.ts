/**
 * cryptopipe's entry point: the only place that exits the process.
 * See `cryptopipe --help` or README.md.
 */
import { runCli } from "./src/cli.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, {
    stdout: async (text) => {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
    },
    stderr: (text) => console.error(text),
    forceExit: () => Deno.exit(130),
  });
  Deno.exit(code);
}
