/**
 * moto_server, the S3 (and Glue/Athena) emulator the tests and the benchmark run against, on a
 * free loopback port; ready when it answers HTTP.
 */
import { freePort, SetupError, stopPid } from "./local_kafka.ts";

export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startMoto(
  log: (line: string) => void = console.error,
  /** Extra environment, e.g. INITIAL_NO_AUTH_ACTION_COUNT for IAM enforcement. */
  env: Record<string, string> = {},
): Promise<Moto> {
  const port = freePort();
  const child = new Deno.Command("moto_server", {
    args: ["-H", "127.0.0.1", "-p", String(port)],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      await response.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stopPid(child.pid);
        throw new SetupError(`moto_server did not answer at ${endpoint} within 30s`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log(`moto_server ready at ${endpoint} (pid ${child.pid})`);
  return {
    endpoint,
    stop: async () => {
      await stopPid(child.pid);
      await child.status;
    },
  };
}
