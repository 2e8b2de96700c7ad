/**
 * Batch compression against the real broker: produce with each offered codec, check the codec
 * of the record batches the broker stored (Kafka's own DumpLogSegments tool on the log files),
 * then read the topic back with kcat (librdkafka's decompression, an independent client) and
 * with cryptopipe's consume into the lake.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LIB_DIR } from "../scripts/local_kafka.ts";
import {
  baseToml,
  cli,
  kcatDump,
  queryLake,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";

/** The compression codecs and producer ids of every record batch of `topic` on disk. */
async function storedBatches(topic: string): Promise<{ codecs: string[]; producerIds: number[] }> {
  const data = Deno.env.get("CRYPTOPIPE_TEST_KAFKA_DATA");
  if (!data) {
    throw new Error(
      "CRYPTOPIPE_TEST_KAFKA_DATA is not set: run `deno task test` (with your own broker, set it to the broker's log.dirs)",
    );
  }
  const segments: string[] = [];
  for await (const entry of Deno.readDir(data)) {
    if (!entry.name.startsWith(`${topic}-`)) continue;
    for await (const file of Deno.readDir(join(data, entry.name))) {
      if (file.name.endsWith(".log")) segments.push(join(data, entry.name, file.name));
    }
  }
  assert.ok(segments.length > 0, `no log segments of ${topic} under ${data}`);
  const out = await new Deno.Command("java", {
    args: ["-cp", `${LIB_DIR}/*`, "kafka.tools.DumpLogSegments", "--files", segments.join(",")],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return {
    codecs: [...new Set([...text.matchAll(/compresscodec: (\w+)/g)].map((m) => m[1]))],
    producerIds: [...new Set([...text.matchAll(/producerId: (-?\d+)/g)].map((m) => Number(m[1])))],
  };
}

// "none" also runs without idempotence, so both producer-id cases are checked.
for (const codec of ["none", "gzip", "snappy"] as const) {
  const idempotent = codec !== "none";
  Deno.test(`compression (${codec}, ${idempotent ? "idempotent" : "not idempotent"}): the broker stores that codec and producer id; kcat and consume read back every record`, async () => {
    const K = 2000;
    const topic = uniqueName(`zip-${codec}`);
    const { config } = await workspace(baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[produce]
compression = "${codec}"
idempotent = ${idempotent}

[batch]
max_age_secs = 1
until_idle_secs = 1.5
`,
    ));
    const produced = await cli(["--mode", "produce", "--config", config, "--max-records", `${K}`]);
    assert.equal(produced.code, 0, produced.stderr);
    const stored = await storedBatches(topic);
    assert.deepEqual(stored.codecs, [codec], "every stored batch uses the codec");
    // Idempotent batches carry a producer id; `idempotent = false` writes -1.
    assert.ok(stored.producerIds.length > 0, "DumpLogSegments printed producer ids");
    assert.ok(
      idempotent ? stored.producerIds.every((id) => id >= 0) : stored.producerIds.join() === "-1",
      `producer ids ${stored.producerIds.join()} (idempotent = ${idempotent})`,
    );
    const messages = await kcatDump(testBrokers(), topic);
    assert.equal(messages.length, K);
    for (const m of messages) assert.equal(JSON.parse(m.payload).schema, "cryptopipe.ticker.v1");

    const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);
    const [{ n }] = await queryLake(
      config,
      "SELECT count(DISTINCT _kafka_offset * 10 + _kafka_partition) AS n FROM ticker",
    );
    assert.equal(n, K);
  });
}
