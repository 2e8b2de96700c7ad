/**
 * `deno task test`: every tier, every time. Starts a throwaway Kafka broker on free loopback
 * ports (unless CRYPTOPIPE_TEST_BROKERS names one), runs all tests against it, stops it.
 * A missing Java, Maven or kcat fails the run with a clear message; nothing is skipped.
 * Extra arguments go to `deno test` (e.g. `deno task test --filter crash`).
 */
import { preflight, SetupError, startBroker } from "./local_kafka.ts";

async function main(): Promise<number> {
  let brokers = Deno.env.get("CRYPTOPIPE_TEST_BROKERS");
  let stop: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  await preflight(brokers ? ["kcat"] : ["java", "mvn", "kcat"]);
  if (!brokers) {
    dir = await Deno.makeTempDir({ prefix: "cryptopipe-test-kafka-" });
    const broker = await startBroker(dir, { heapMb: 512 });
    brokers = broker.bootstrap;
    stop = () => broker.stop();
  } else {
    console.error(`using the test broker at ${brokers} (CRYPTOPIPE_TEST_BROKERS)`);
  }
  try {
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", ...Deno.args],
      env: { CRYPTOPIPE_TEST_BROKERS: brokers },
      stdin: "null",
    }).spawn().status;
    return status.code;
  } finally {
    await stop?.();
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`error: ${error instanceof SetupError ? error.message : (error as Error).stack}`);
  Deno.exit(2);
}
