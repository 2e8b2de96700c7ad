/**
 * `deno task test`: every tier, every time. Starts a throwaway Kafka broker on free loopback
 * ports (unless CRYPTOPIPE_TEST_BROKERS names one) and moto_server for S3 (unless
 * CRYPTOPIPE_TEST_S3_ENDPOINT names one), runs all tests against them, stops them.
 * A missing Java, Maven, kcat or moto_server fails the run with a clear message; nothing is
 * skipped. Extra arguments go to `deno test` (e.g. `deno task test --filter crash`).
 */
import { join } from "node:path";
import { preflight, SetupError, startBroker } from "./local_kafka.ts";
import { startMoto } from "./local_moto.ts";

async function main(): Promise<number> {
  let brokers = Deno.env.get("CRYPTOPIPE_TEST_BROKERS");
  // The broker's log directory, for tests that inspect record batches on disk.
  let kafkaData = Deno.env.get("CRYPTOPIPE_TEST_KAFKA_DATA");
  let s3 = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  const stops: Array<() => Promise<void>> = [];
  let dir: string | undefined;
  await preflight([...(brokers ? [] : ["java", "mvn"]), "kcat", ...(s3 ? [] : ["moto_server"])]);
  try {
    if (!brokers) {
      dir = await Deno.makeTempDir({ prefix: "cryptopipe-test-kafka-" });
      const broker = await startBroker(dir, { heapMb: 512 });
      brokers = broker.bootstrap;
      kafkaData = join(dir, "data");
      stops.push(() => broker.stop());
    } else {
      console.error(`using the test broker at ${brokers} (CRYPTOPIPE_TEST_BROKERS)`);
    }
    if (!s3) {
      const moto = await startMoto();
      s3 = moto.endpoint;
      stops.push(moto.stop);
    }
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", ...Deno.args],
      env: {
        CRYPTOPIPE_TEST_BROKERS: brokers,
        ...(kafkaData ? { CRYPTOPIPE_TEST_KAFKA_DATA: kafkaData } : {}),
        CRYPTOPIPE_TEST_S3_ENDPOINT: s3,
        // moto accepts any key; fixed test values keep a developer's real AWS keys out of tests.
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
      },
      stdin: "null",
    }).spawn().status;
    return status.code;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`error: ${error instanceof SetupError ? error.message : (error as Error).stack}`);
  Deno.exit(2);
}
