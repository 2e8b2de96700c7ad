/**
 * `deno task test`: every tier, every time. Starts a throwaway Kafka broker on free loopback
 * ports (unless CRYPTOPIPE_TEST_BROKERS names one), a second one with TLS + SASL and mTLS
 * listeners and a throwaway PKI (unless CRYPTOPIPE_TEST_SECURE_KAFKA names its secure.json, see
 * scripts/local_kafka.ts startSecureBroker), and moto_server for S3 (unless
 * CRYPTOPIPE_TEST_S3_ENDPOINT names one), runs all tests against them, stops them.
 * A missing Java, Maven, openssl, kcat or moto_server fails the run with a clear message; nothing is
 * skipped. Extra arguments go to `deno test` (e.g. `deno task test --filter crash`).
 */
import { join } from "node:path";
import {
  ensureJars,
  preflight,
  SetupError,
  startBroker,
  startSecureBroker,
} from "./local_kafka.ts";
import { startMoto } from "./local_moto.ts";

async function main(): Promise<number> {
  let brokers = Deno.env.get("CRYPTOPIPE_TEST_BROKERS");
  // The broker's log directory, for tests that inspect record batches on disk.
  let kafkaData = Deno.env.get("CRYPTOPIPE_TEST_KAFKA_DATA");
  let s3 = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  // The secured broker (TLS + SASL, mTLS): a JSON description written by startSecureBroker.
  let secureKafka = Deno.env.get("CRYPTOPIPE_TEST_SECURE_KAFKA");
  const stops: Array<() => Promise<void>> = [];
  const dirs: string[] = [];
  const needJava = !brokers || !secureKafka;
  await preflight([
    ...(needJava ? ["java", "mvn"] : []),
    ...(secureKafka ? [] : ["openssl"]),
    "kcat",
    ...(s3 ? [] : ["moto_server"]),
  ]);
  try {
    if (needJava) await ensureJars(); // once, before two brokers would fetch them at once
    // Both brokers start at once: each spends most of its start-up waiting on the JVM.
    const plain = brokers ? undefined : (async () => {
      const dir = await Deno.makeTempDir({ prefix: "cryptopipe-test-kafka-" });
      dirs.push(dir);
      const broker = await startBroker(dir, { heapMb: 512 });
      stops.push(() => broker.stop());
      return { bootstrap: broker.bootstrap, data: join(dir, "data") };
    })();
    const secure = secureKafka ? undefined : (async () => {
      const dir = await Deno.makeTempDir({ prefix: "cryptopipe-test-secure-kafka-" });
      dirs.push(dir);
      const broker = await startSecureBroker(dir, { heapMb: 512 });
      stops.push(() => broker.stop());
      return broker.infoFile;
    })();
    const [plainResult, secureResult] = await Promise.allSettled([plain, secure]);
    if (plainResult.status === "rejected") throw plainResult.reason;
    if (secureResult.status === "rejected") throw secureResult.reason;
    if (plainResult.value) {
      brokers = plainResult.value.bootstrap;
      kafkaData = plainResult.value.data;
    } else {
      console.error(`using the test broker at ${brokers} (CRYPTOPIPE_TEST_BROKERS)`);
    }
    if (secureResult.value) secureKafka = secureResult.value;
    else {console.error(
        `using the secured test broker of ${secureKafka} (CRYPTOPIPE_TEST_SECURE_KAFKA)`,
      );}
    if (!s3) {
      const moto = await startMoto();
      s3 = moto.endpoint;
      stops.push(moto.stop);
    }
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", ...Deno.args],
      env: {
        CRYPTOPIPE_TEST_BROKERS: brokers!,
        CRYPTOPIPE_TEST_SECURE_KAFKA: secureKafka!,
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
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`error: ${error instanceof SetupError ? error.message : (error as Error).stack}`);
  Deno.exit(2);
}
