/**
 * consume into S3 (moto_server over HTTP): the K records kcat sees in the topic are exactly
 * the K rows in the bucket's Parquet files, each once. Read back with the project's reader
 * through the S3 API, not through consume's own state.
 */
import assert from "node:assert/strict";
import { createEncoder } from "../src/encode/mod.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  kcatDump,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";

Deno.test("e2e (s3 via moto): K produced records are exactly the K rows in the bucket", async () => {
  const endpoint = testS3Endpoint();
  const bucket = await freshBucket();

  const K = 2500;
  const topic = uniqueName("s3");
  const storeToml = `
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${endpoint}"
force_path_style = true
`;
  const { config } = await workspace(
    baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[batch]
max_records = 600
max_age_secs = 1
until_idle_secs = 1.5
`,
    ).replace(/\[store\]\npath = "\{lake\}"\n/, `[store]${storeToml}`),
  );
  assert.equal(
    (await cli(["--mode", "produce", "--config", config, "--max-records", String(K)])).code,
    0,
  );
  const consumed = await cli(
    ["--mode", "consume", "--config", config, "--until-idle"],
    AWS_TEST_ENV,
  );
  assert.equal(consumed.code, 0, consumed.stderr);

  const store = testS3Store(bucket, "lake");
  const parquet = createEncoder("parquet");
  const seen = new Set<string>();
  let rows = 0;
  const keys = await store.list("ticker");
  assert.ok(keys.length >= Math.ceil(K / 600), `${keys.length} files`);
  for (const key of keys) {
    assert.match(
      key,
      new RegExp(`^ticker/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/${topic}\\+\\d\\+\\d{20}\\.parquet$`),
    );
    for (const row of await parquet.decode(await store.read(key))) {
      seen.add(`${row._kafka_partition}:${row._kafka_offset}`);
      rows++;
    }
  }
  assert.equal(rows, K, "no duplicates");
  assert.deepEqual(
    seen,
    new Set((await kcatDump(testBrokers(), topic)).map((m) => `${m.partition}:${m.offset}`)),
  );

  // The local catalog cannot register an S3 lake: one clear line, exit 2.
  const catalog = await cli(["--mode", "catalog", "--config", config]);
  assert.equal(catalog.code, 2);
  assert.match(
    catalog.stderr,
    /catalog\.type = "local" registers a local-folder lake, but store\.type = "s3"/,
  );
});
