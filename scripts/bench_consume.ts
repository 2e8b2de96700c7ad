/**
 * Consume benchmark (docs reliability-and-bench.md §7). Starts its own Kafka broker and
 * moto_server in a temp dir, pre-fills a topic with N ticker v1 records (scripts/bench_data.ts),
 * then, for each repetition and with the variants interleaved, drains the same topic with:
 *
 *   kcat    `kcat -C ... -f '%s\n' > /dev/null`: the native read ceiling
 *   native  `kcat -C` into a JSON-lines file, then DuckDB COPY to Parquet (snappy): the
 *           native pipeline doing cryptopipe's job
 *   local   `cryptopipe --mode consume --until-idle` into a local Parquet lake
 *   s3      the same into moto S3
 *
 * and reports records/s, MB/s of JSON, CPU-s per million records, peak RSS, files and mean
 * file size, with medians over the runs and the ratios taken within each run. Every lake is
 * checked for exactly-once coverage of the topic (a fast run that loses data fails).
 * Then: freshness under a steady live stream (`--freshness-secs`, 0 skips), an optional
 * long run for flat memory (`--rss-records 10000000`) and an optional CPU profile of the
 * local consume (`--profile`).
 *
 *   deno run -A scripts/bench_consume.ts [--records 1000000] [--runs 3] [--json out.json]
 *
 * Progress goes to stderr, the report to stdout. Numbers from a shared machine are noisy:
 * compare ratios measured in the same run, not absolute rates across runs.
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parquetReadObjects } from "hyparquet";
import { createEncoder } from "../src/encode/mod.ts";
import { createStore, parseFileName, type Store } from "../src/store/mod.ts";
import {
  BENCH_SYMBOLS,
  benchConfig,
  type FillResult,
  fillTopic,
  topicCounts,
} from "./bench_data.ts";
import { startMoto } from "./local_moto.ts";
import {
  failed,
  type Finished,
  killChildren,
  logLine,
  median,
  procStatusKb,
  type Running,
  startChild,
} from "./bench_process.ts";
import {
  type Broker,
  KAFKA_VERSION,
  preflight,
  REPO_ROOT,
  SetupError,
  startBroker,
} from "./local_kafka.ts";

const MAIN = join(REPO_ROOT, "main.ts");
const DENO_JSON = join(REPO_ROOT, "deno.json");
const SELF = fileURLToPath(import.meta.url);
const VARIANTS = ["kcat", "native", "local", "s3"] as const;
type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  kcat: "kcat -C (read ceiling)",
  native: "kcat + DuckDB → Parquet",
  local: "cryptopipe → local Parquet",
  s3: "cryptopipe → moto S3 Parquet",
};
const TARGET_RATIO = 0.5;
const TARGET_RSS_MIB = 256;
const TARGET_FRESH_P99_S = 12;

const OPTIONS = {
  records: { type: "string", default: "1000000" },
  runs: { type: "string", default: "3" },
  warmup: { type: "string", default: "0" },
  partitions: { type: "string", default: "3" },
  variants: { type: "string", default: VARIANTS.join(",") },
  "freshness-secs": { type: "string", default: "60" },
  "freshness-rate": { type: "string", default: "2000" },
  "max-age": { type: "string", default: "10" },
  "rss-records": { type: "string", default: "0" },
  profile: { type: "boolean", default: false },
  "deno-flags": { type: "string", default: "" },
  batch: { type: "string", default: "" },
  json: { type: "string" },
  keep: { type: "boolean", default: false },
  help: { type: "boolean", short: "h" },
  // Internal: the DuckDB step of the native pipeline runs in its own process.
  "duckdb-copy": { type: "string" },
  "duckdb-out": { type: "string" },
} as const;

const HELP = `usage: deno run -A scripts/bench_consume.ts [options]
  --records N          records in the pre-filled topic (default 1000000)
  --runs N             measured repetitions, variants interleaved (default 3; 0 = none)
  --warmup N           unmeasured repetitions first (default 0)
  --partitions N       topic partitions (default 3)
  --variants LIST      any of kcat,native,local,s3 (default all)
  --freshness-secs S   live-stream freshness run length; 0 skips (default 60)
  --freshness-rate R   records/s of the live stream (default 2000)
  --max-age S          [batch] max_age_secs of the freshness run (default 10)
  --rss-records N      extra long consume that samples RSS every second (e.g. 10000000)
  --profile            one extra local consume under --cpu-prof, summarized
  --deno-flags=FLAGS   extra \`deno run\` flags for every cryptopipe child, space-separated,
                       e.g. --deno-flags=--v8-flags=--max-old-space-size=160
  --batch K=V,...      [batch] overrides for the drain and memory runs,
                       e.g. --batch max_buffered_bytes=33554432,max_records=50000
  --json FILE          also write the results as JSON
  --keep               keep the temp dir (broker data, lakes, configs, profiles)`;

const log = (line: string) => console.error(line);
/** Reported by the native pipeline's DuckDB child, for the report header. */
let duckdbVersion = "?";

// ---------------------------------------------------------------------------------------------
// Test services: broker (scripts/local_kafka.ts) and moto_server (as scripts/run_tests.ts).
// ---------------------------------------------------------------------------------------------

const S3_ENV = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
};

async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const response = await fetch(`${endpoint}/${bucket}`, { method: "PUT" });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`cannot create bucket ${bucket}: HTTP ${response.status}`);
}

// ---------------------------------------------------------------------------------------------
// cryptopipe configs and the lake check
// ---------------------------------------------------------------------------------------------

interface Bench {
  readonly tmp: string;
  readonly brokers: string;
  readonly s3Endpoint?: string;
  readonly fill: FillResult;
  /** Extra `deno run` flags for cryptopipe children (--deno-flags). */
  readonly denoFlags: string[];
  /** [batch] overrides for the drain and memory runs (--batch). */
  readonly batch: Record<string, number>;
}

type StoreSpec = { type: "local"; path: string } | { type: "s3"; bucket: string; endpoint: string };

function storeToml(store: StoreSpec): string {
  return store.type === "local"
    ? `[store]\ntype = "local"\npath = "${store.path}"\n`
    : `[store]\ntype = "s3"\nbucket = "${store.bucket}"\nendpoint = "${store.endpoint}"\n` +
      `force_path_style = true\nregion = "us-east-1"\n`;
}

/** A consume config: product defaults except what a bench must set (names, idle wait, log). */
function consumeToml(
  brokers: string,
  topic: string,
  group: string,
  store: StoreSpec,
  batch: Record<string, number> = {},
): string {
  return [
    `[log]\nlevel = "info"\nformat = "json"\n`,
    `[bus]\nbrokers = ["${brokers}"]\ntopic = "${topic}"\ngroup_id = "${group}"`,
    `client_id = "cryptopipe-bench"\n`,
    // until_idle_secs = 1: the idle wait after the drain is outside the timed window anyway.
    `[batch]\nuntil_idle_secs = ${batch.until_idle_secs ?? 1}`,
    ...Object.entries(batch).filter(([k]) => k !== "until_idle_secs").map(([k, v]) =>
      `${k} = ${v}`
    ),
    `\n[encode]\nformat = "parquet"\n`,
    storeToml(store),
  ].join("\n");
}

async function writeConfig(dir: string, name: string, toml: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, toml);
  return path;
}

function storeOf(store: StoreSpec): Store {
  if (store.type === "s3") { for (const [k, v] of Object.entries(S3_ENV)) Deno.env.set(k, v); }
  return createStore(benchConfig(storeToml(store)));
}

interface LakeCheck {
  readonly files: number;
  readonly bytes: number;
  readonly rows: number;
}

/**
 * Exactly-once coverage from the files' own offset metadata (Parquet footers), cheap enough
 * for 10M rows: per partition the files' [first, last] ranges are disjoint, gap-free, hold
 * last − first + 1 rows each (the bench topic has contiguous offsets) and cover 0..count−1.
 * No errors-table rows are allowed (every bench record is valid).
 */
async function verifyLake(store: Store, topic: string, perPartition: number[]): Promise<LakeCheck> {
  const errors = await store.list("ticker_errors");
  if (errors.length > 0) throw new Error(`the lake has ${errors.length} errors-table files`);
  const encoder = createEncoder("parquet");
  const ranges = new Map<number, Array<{ first: number; last: number; key: string }>>();
  let bytes = 0;
  let rows = 0;
  const keys = await store.list("ticker");
  for (const key of keys) {
    const name = parseFileName(basename(key));
    if (!name || name.topic !== topic) throw new Error(`unexpected lake file ${key}`);
    const content = await store.read(key);
    bytes += content.byteLength;
    const coverage = encoder.coverage(content);
    if (
      coverage.firstOffset !== name.firstOffset ||
      coverage.records !== coverage.lastOffset - coverage.firstOffset + 1
    ) {
      throw new Error(`${key}: metadata ${JSON.stringify(coverage)} does not match its name`);
    }
    rows += coverage.records;
    const list = ranges.get(name.partition) ?? [];
    list.push({ first: coverage.firstOffset, last: coverage.lastOffset, key });
    ranges.set(name.partition, list);
  }
  perPartition.forEach((count, partition) => {
    let next = 0;
    for (const range of (ranges.get(partition) ?? []).sort((a, b) => a.first - b.first)) {
      if (range.first !== next) {
        throw new Error(
          `partition ${partition}: ${range.key} starts at ${range.first}, expected ${next} ` +
            `(${range.first > next ? "rows missing" : "rows duplicated"})`,
        );
      }
      next = range.last + 1;
    }
    if (next !== count) {
      throw new Error(`partition ${partition}: the lake covers ${next} of ${count} records`);
    }
  });
  return { files: keys.length, bytes, rows };
}

// ---------------------------------------------------------------------------------------------
// The variants
// ---------------------------------------------------------------------------------------------

interface Measurement {
  readonly variant: Variant;
  readonly run: number;
  /** The timed window: process wall time (kcat), kcat + COPY (native), busy_seconds (cryptopipe). */
  readonly seconds: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMib: number;
  readonly files?: number;
  readonly bytesWritten?: number;
  readonly rebalances?: number;
  /** cryptopipe's flushes by reason (records, bytes, memory, until_idle, ...). */
  readonly flushes?: Record<string, number>;
}

function kcatConsumeArgs(bench: Bench, format = "%s\\n"): string[] {
  return ["-C", "-b", bench.brokers, "-t", bench.fill.topic, "-o", "beginning", "-e", "-f", format];
}

async function benchKcat(bench: Bench, run: number): Promise<Measurement> {
  const result = await startChild("kcat", kcatConsumeArgs(bench)).done;
  if (result.code !== 0) throw failed("kcat -C", result);
  // Without -q kcat reports where each partition ended: proof that it read everything.
  const ends = result.stderrTail.filter((l) => l.includes("Reached end of topic"));
  const total = ends.reduce((sum, l) => sum + Number(/at offset (\d+)/.exec(l)?.[1] ?? 0), 0);
  if (total !== bench.fill.records) {
    throw new Error(`kcat -C read to offsets summing ${total}, expected ${bench.fill.records}`);
  }
  return {
    variant: "kcat",
    run,
    seconds: result.wallSeconds,
    wallSeconds: result.wallSeconds,
    cpuSeconds: result.cpuSeconds,
    peakRssMib: result.peakRssKb / 1024,
  };
}

async function benchNative(bench: Bench, run: number): Promise<Measurement> {
  const dir = await Deno.makeTempDir({ dir: bench.tmp, prefix: "native-" });
  const jsonl = join(dir, "topic.jsonl");
  const parquet = join(dir, "topic.parquet");
  try {
    // `exec` keeps the PID kcat's own, so its RSS is what we sample.
    const read = await startChild("sh", [
      "-c",
      'out="$1"; shift; exec "$@" >"$out"',
      "sh",
      jsonl,
      "kcat",
      ...kcatConsumeArgs(bench),
      "-q",
    ]).done;
    if (read.code !== 0) throw failed("kcat -C > file", read);
    const copy = await startChild(Deno.execPath(), [
      "run",
      "--allow-all",
      "--config",
      DENO_JSON,
      SELF,
      "--duckdb-copy",
      jsonl,
      "--duckdb-out",
      parquet,
    ], { stdout: "piped" }).done;
    if (copy.code !== 0) throw failed("DuckDB COPY", copy);
    const report = JSON.parse(copy.stdout) as {
      rows: number;
      copySeconds: number;
      hwmKb: number;
      version: string;
    };
    duckdbVersion = report.version;
    if (report.rows !== bench.fill.records) {
      throw new Error(`DuckDB wrote ${report.rows} rows, expected ${bench.fill.records}`);
    }
    return {
      variant: "native",
      run,
      // The COPY as timed inside DuckDB's process: a duckdb CLI would not pay Deno's start-up.
      seconds: read.wallSeconds + report.copySeconds,
      wallSeconds: read.wallSeconds + copy.wallSeconds,
      cpuSeconds: read.cpuSeconds + copy.cpuSeconds,
      peakRssMib: Math.max(read.peakRssKb, copy.peakRssKb, report.hwmKb) / 1024,
      files: 1,
      bytesWritten: (await Deno.stat(parquet)).size,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The child side of the native pipeline: JSON lines → Parquet with DuckDB, then count. */
async function duckdbCopy(input: string, output: string): Promise<void> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const started = performance.now();
  await connection.run(
    `COPY (SELECT * FROM read_json(${quote(input)}, format = 'newline_delimited')) TO ${
      quote(output)
    } (FORMAT parquet, COMPRESSION snappy)`,
  );
  const copySeconds = (performance.now() - started) / 1000;
  const count = await connection.runAndReadAll(
    `SELECT count(*) FROM read_parquet(${quote(output)})`,
  );
  const version = await connection.runAndReadAll("SELECT version()");
  const hwmKb = procStatusKb(Deno.pid)?.hwm ?? 0;
  connection.closeSync();
  instance.closeSync();
  console.log(JSON.stringify({
    rows: Number(count.getRowsJS()[0][0]),
    copySeconds,
    hwmKb,
    version: String(version.getRowsJS()[0][0]),
  }));
}

interface ConsumeRun {
  readonly finished: Record<string, unknown>;
  readonly assignments: number;
  readonly result: Finished;
}

/** `cryptopipe --mode consume --until-idle` as a child, its final summary line parsed. */
async function runConsume(
  config: string,
  options: { env?: Record<string, string>; sampleMs?: number; denoFlags?: string[] } = {},
): Promise<ConsumeRun> {
  let finished: Record<string, unknown> | undefined;
  let assignments = 0;
  let lastProgress = 0;
  const result = await startChild(Deno.execPath(), [
    "run",
    "--allow-all",
    ...(options.denoFlags ?? []),
    "--config",
    DENO_JSON,
    MAIN,
    "--mode",
    "consume",
    "--config",
    config,
    "--until-idle",
  ], {
    env: options.env,
    sampleMs: options.sampleMs,
    onLine: (line) => {
      const fields = logLine(line);
      if (fields?.message === "consume finished") finished = fields;
      if (fields?.message === "partitions assigned") assignments++;
      if (fields?.message === "progress" && Date.now() - lastProgress > 20_000) {
        lastProgress = Date.now();
        log(`    progress: ${fields.rows} rows, ${fields.rows_per_sec} rows/s`);
      }
    },
  }).done;
  if (result.code !== 0 || !finished) throw failed("cryptopipe consume", result);
  return { finished, assignments, result };
}

async function benchCryptopipe(
  bench: Bench,
  variant: "local" | "s3",
  run: number,
): Promise<Measurement> {
  const id = `${variant}-${run}-${crypto.randomUUID().slice(0, 8)}`;
  const lake = join(bench.tmp, `lake-${id}`);
  const store: StoreSpec = variant === "local"
    ? { type: "local", path: lake }
    : { type: "s3", bucket: `bench-${id}`, endpoint: bench.s3Endpoint! };
  if (store.type === "s3") await createBucket(store.endpoint, store.bucket);
  const config = await writeConfig(
    bench.tmp,
    `consume-${id}.toml`,
    consumeToml(bench.brokers, bench.fill.topic, `bench-${id}`, store, bench.batch),
  );
  try {
    const { finished, assignments, result } = await runConsume(config, {
      env: variant === "s3" ? S3_ENV : {},
      denoFlags: bench.denoFlags,
    });
    const check = await verifyLake(storeOf(store), bench.fill.topic, bench.fill.perPartition);
    if (check.rows !== bench.fill.records || Number(finished.rows) !== bench.fill.records) {
      throw new Error(`${variant}: lake has ${check.rows} rows, consume reported ${finished.rows}`);
    }
    return {
      variant,
      run,
      seconds: Number(finished.busy_seconds),
      wallSeconds: result.wallSeconds,
      cpuSeconds: result.cpuSeconds,
      peakRssMib: result.peakRssKb / 1024,
      files: check.files,
      bytesWritten: check.bytes,
      rebalances: assignments - 1,
      flushes: JSON.parse(String(finished.flushes ?? "{}")),
    };
  } finally {
    await Deno.remove(lake, { recursive: true }).catch(() => {});
  }
}

function benchVariant(bench: Bench, variant: Variant, run: number): Promise<Measurement> {
  switch (variant) {
    case "kcat":
      return benchKcat(bench, run);
    case "native":
      return benchNative(bench, run);
    case "local":
    case "s3":
      return benchCryptopipe(bench, variant, run);
  }
}

// ---------------------------------------------------------------------------------------------
// Freshness: a steady live stream, a max-age flush, and a watcher that sees files appear.
// ---------------------------------------------------------------------------------------------

interface Freshness {
  readonly seconds: number;
  readonly ratePerSecond: number;
  readonly maxAgeSecs: number;
  readonly produced: number;
  readonly rowsSeen: number;
  readonly files: number;
  /** t_visible − Kafka timestamp, seconds. */
  readonly kafka: Percentiles;
  /** t_visible − event_time, seconds (adds the producer's batching). */
  readonly event: Percentiles;
}

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function percentiles(values: Float64Array): Percentiles {
  const sorted = values.slice().sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

async function listParquet(dir: string, out: string[] = []): Promise<string[]> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await listParquet(path, out);
      else if (entry.name.endsWith(".parquet")) out.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

async function benchFreshness(
  bench: Bench,
  seconds: number,
  rate: number,
  maxAge: number,
): Promise<Freshness> {
  const topic = "bench.fresh.v1";
  const lake = join(bench.tmp, "lake-fresh");
  const consumeConfig = await writeConfig(
    bench.tmp,
    "fresh-consume.toml",
    consumeToml(bench.brokers, topic, "bench-fresh", { type: "local", path: lake }, {
      max_age_secs: maxAge,
    }),
  );
  const produceConfig = await writeConfig(
    bench.tmp,
    "fresh-produce.toml",
    [
      `[log]\nlevel = "info"\nformat = "json"\n`,
      `[bus]\nbrokers = ["${bench.brokers}"]\ntopic = "${topic}"\n`,
      `[sources.sim]\ntype = "simulated"\nrate_per_second = ${rate}`,
      `symbols = ${JSON.stringify(BENCH_SYMBOLS)}\n`,
    ].join("\n"),
  );
  const cli = (mode: string, config: string, extra: string[] = []) => [
    "run",
    "--allow-all",
    ...bench.denoFlags,
    "--config",
    DENO_JSON,
    MAIN,
    "--mode",
    mode,
    "--config",
    config,
    ...extra,
  ];
  let assigned!: () => void;
  const assignedPromise = new Promise<void>((r) => (assigned = r));
  const consumer = startChild(Deno.execPath(), cli("consume", consumeConfig), {
    onLine: (line) => {
      if (logLine(line)?.message === "partitions assigned") assigned();
    },
  });
  const visible = new Map<string, number>();
  const kafkaLatency: number[] = [];
  const eventLatency: number[] = [];
  let producer: Running | undefined;
  try {
    await Promise.race([
      assignedPromise,
      consumer.done.then((r) => Promise.reject(failed("cryptopipe consume (freshness)", r))),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("consumer not assigned within 60s")), 60_000)
      ),
    ]);
    log(`  consumer ready; producing ${rate} records/s for ${seconds}s (max_age_secs = ${maxAge})`);
    producer = startChild(
      Deno.execPath(),
      cli("produce", produceConfig, ["--duration", `${seconds}s`]),
    );
    let produced: number | undefined;
    producer.done.then(async (r) => {
      if (r.code === 0) {
        produced = (await topicCounts(bench.brokers, topic)).reduce((a, b) => a + b);
      }
    }).catch(() => {}); // counted again below, where a failure is reported
    const deadline = Date.now() + (seconds + maxAge + 60) * 1000;
    // Poll every 100 ms; stamp new files first, read them after, so reading never delays a stamp.
    while (Date.now() < deadline) {
      const polled = Date.now();
      const fresh = (await listParquet(join(lake, "ticker"))).filter((p) => !visible.has(p));
      const now = Date.now();
      for (const path of fresh) visible.set(path, now);
      for (const path of fresh) {
        const bytes = await Deno.readFile(path);
        const rows = await parquetReadObjects({
          file: bytes.buffer as ArrayBuffer,
          columns: ["_kafka_timestamp", "event_time"],
        });
        const seen = visible.get(path)!;
        for (const row of rows) {
          kafkaLatency.push((seen - Number(row._kafka_timestamp)) / 1000);
          eventLatency.push((seen - Number(row.event_time)) / 1000);
        }
      }
      if (produced !== undefined && kafkaLatency.length >= produced) break;
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - polled))));
    }
    const producerResult = await producer.done;
    if (producerResult.code !== 0) throw failed("cryptopipe produce", producerResult);
    if (produced === undefined) {
      produced = (await topicCounts(bench.brokers, topic)).reduce((a, b) => a + b);
    }
    return {
      seconds,
      ratePerSecond: rate,
      maxAgeSecs: maxAge,
      produced,
      rowsSeen: kafkaLatency.length,
      files: visible.size,
      kafka: percentiles(Float64Array.from(kafkaLatency)),
      event: percentiles(Float64Array.from(eventLatency)),
    };
  } finally {
    if (producer) {
      try {
        producer.child.kill("SIGTERM");
      } catch { /* already gone */ }
      await producer.done;
    }
    try {
      consumer.child.kill("SIGTERM");
    } catch { /* already gone */ }
    await consumer.done;
  }
}

// ---------------------------------------------------------------------------------------------
// Long run for the memory target: RSS sampled every second, first vs last quarter.
// ---------------------------------------------------------------------------------------------

interface RssRun {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly peakRssMib: number;
  /** Max VmRSS per tenth of the run, MiB. */
  readonly deciles: number[];
  readonly firstQuarterMib: number;
  readonly lastQuarterMib: number;
  readonly flat: boolean;
}

async function benchRss(bench: Bench, records: number, partitions: number): Promise<RssRun> {
  const topic = "bench.rss.v1";
  log(`\n== memory: ${records.toLocaleString("en")} records, RSS sampled every second`);
  const fill = await fillTopic({ brokers: bench.brokers, topic, records, partitions, log });
  const lake = join(bench.tmp, "lake-rss");
  const store: StoreSpec = { type: "local", path: lake };
  const config = await writeConfig(
    bench.tmp,
    "rss-consume.toml",
    consumeToml(bench.brokers, topic, "bench-rss", store, bench.batch),
  );
  try {
    const { finished, result } = await runConsume(config, {
      sampleMs: 1000,
      denoFlags: bench.denoFlags,
    });
    const check = await verifyLake(storeOf(store), topic, fill.perPartition);
    if (check.rows !== records) throw new Error(`lake has ${check.rows} rows, expected ${records}`);
    const samples = result.samples;
    const end = samples.at(-1)?.[0] ?? 1;
    const maxIn = (from: number, to: number) =>
      Math.max(0, ...samples.filter(([t]) => t >= from * end && t < to * end).map(([, kb]) => kb)) /
      1024;
    const deciles = Array.from({ length: 10 }, (_, i) => maxIn(i / 10, (i + 1) / 10));
    const firstQuarterMib = maxIn(0, 0.25);
    const lastQuarterMib = maxIn(0.75, 1.01);
    const busy = Number(finished.busy_seconds);
    return {
      records,
      seconds: busy,
      recordsPerSec: records / busy,
      peakRssMib: result.peakRssKb / 1024,
      deciles,
      firstQuarterMib,
      lastQuarterMib,
      // Flat: the last quarter's peak within 10 % (+16 MiB of noise) of the first quarter's.
      flat: lastQuarterMib <= firstQuarterMib * 1.1 + 16,
    };
  } finally {
    await Deno.remove(lake, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profile of the local consume: self and inclusive time per function and per module.
// ---------------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface ProfileSummary {
  readonly totalMs: number;
  readonly self: Array<{ name: string; ms: number; pct: number }>;
  readonly inclusive: Array<{ name: string; ms: number; pct: number }>;
  readonly modules: Array<{ name: string; ms: number; pct: number }>;
}

function shortUrl(url: string): string {
  const npm = /\/npm\/registry\.npmjs\.org\/([^/]+(?:\/[^/]+)?)\/[^/]+\/(.*)$/.exec(url);
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  return url.replace(`file://${REPO_ROOT}/`, "");
}

/** Which part of the system a frame belongs to. */
function moduleOf(frame: ProfileNode["callFrame"]): string {
  const url = shortUrl(frame.url);
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native/V8)";
  const npm = /^npm:(@[^/]+\/[^/]+|[^/]+)/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) return "Deno runtime / node compat";
  return url;
}

function summarizeProfile(profile: {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  );
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}${
      n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""
    }`;
  const idle = new Set(["(idle)", "(root)"]);
  let total = 0;
  const self = new Map<string, number>();
  const modules = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (idle.has(node.callFrame.functionName)) continue;
    total += us;
    self.set(key(node), (self.get(key(node)) ?? 0) + us);
    const module = moduleOf(node.callFrame);
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  // Inclusive: a node's subtree time, counted once per function even under recursion.
  const inclusive = new Map<string, number>();
  const subtree = (node: ProfileNode, onStack: Set<string>): number => {
    const k = key(node);
    const fresh = !onStack.has(k);
    if (fresh) onStack.add(k);
    let us = idle.has(node.callFrame.functionName) ? 0 : selfUs.get(node.id) ?? 0;
    for (const child of node.children ?? []) us += subtree(byId.get(child)!, onStack);
    if (fresh) {
      onStack.delete(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
    return us;
  };
  const root = profile.nodes.find((n) => n.callFrame.functionName === "(root)") ?? profile.nodes[0];
  subtree(root, new Set());
  inclusive.delete(key(root));
  const top = (map: Map<string, number>, n: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({
      name,
      ms: us / 1000,
      pct: (100 * us) / total,
    }));
  return {
    totalMs: total / 1000,
    self: top(self, 25),
    inclusive: top(inclusive, 25),
    modules: top(modules, 15),
  };
}

async function benchProfile(bench: Bench): Promise<ProfileSummary> {
  const id = `profile-${crypto.randomUUID().slice(0, 8)}`;
  const lake = join(bench.tmp, `lake-${id}`);
  const profileDir = join(bench.tmp, id);
  const config = await writeConfig(
    bench.tmp,
    `consume-${id}.toml`,
    consumeToml(
      bench.brokers,
      bench.fill.topic,
      `bench-${id}`,
      { type: "local", path: lake },
      bench.batch,
    ),
  );
  try {
    const { finished } = await runConsume(config, {
      denoFlags: [...bench.denoFlags, "--cpu-prof", `--cpu-prof-dir=${profileDir}`],
    });
    log(
      `  profiled run: ${finished.rows} rows in ${finished.busy_seconds}s (with profiler overhead)`,
    );
    const file = [...Deno.readDirSync(profileDir)].find((e) => e.name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile in ${profileDir}`);
    log(`  profile: ${join(profileDir, file.name)} (kept with --keep)`);
    return summarizeProfile(JSON.parse(await Deno.readTextFile(join(profileDir, file.name))));
  } finally {
    await Deno.remove(lake, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmt = (x: number, digits = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "-";

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
  ).join("\n");
}

interface VariantSummary {
  readonly variant: Variant;
  readonly runs: number;
  readonly recordsPerSec: { median: number; min: number; max: number };
  readonly mbPerSec: number;
  /** Bytes written (Parquet) per second, 10^6. */
  readonly outMbPerSec?: number;
  readonly cpuSecondsPerMillion: number;
  readonly peakRssMib: number;
  readonly files?: number;
  readonly meanFileBytes?: number;
  readonly wallSeconds: number;
}

function summarize(variant: Variant, ms: Measurement[], fill: FillResult): VariantSummary {
  const rates = ms.map((m) => fill.records / m.seconds);
  const files = ms.filter((m) => m.files !== undefined);
  return {
    variant,
    runs: ms.length,
    recordsPerSec: { median: median(rates), min: Math.min(...rates), max: Math.max(...rates) },
    mbPerSec: median(ms.map((m) => fill.jsonBytes / m.seconds / 1e6)),
    cpuSecondsPerMillion: median(ms.map((m) => m.cpuSeconds / (fill.records / 1e6))),
    peakRssMib: median(ms.map((m) => m.peakRssMib)),
    outMbPerSec: files.length
      ? median(files.map((m) => m.bytesWritten! / m.seconds / 1e6))
      : undefined,
    files: files.length ? median(files.map((m) => m.files!)) : undefined,
    meanFileBytes: files.length ? median(files.map((m) => m.bytesWritten! / m.files!)) : undefined,
    wallSeconds: median(ms.map((m) => m.wallSeconds)),
  };
}

/** Per-run ratio a ÷ b of records/s (same run, same topic), as median [min–max]. */
function ratio(ms: Measurement[], a: Variant, b: Variant) {
  const values: number[] = [];
  for (const run of new Set(ms.map((m) => m.run))) {
    const x = ms.find((m) => m.run === run && m.variant === a);
    const y = ms.find((m) => m.run === run && m.variant === b);
    if (x && y) values.push(y.seconds / x.seconds);
  }
  return values.length
    ? { a, b, median: median(values), min: Math.min(...values), max: Math.max(...values) }
    : undefined;
}

function environment(kcatVersion: string) {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  return {
    cpu,
    nproc: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    kafka: KAFKA_VERSION,
    kcat: kcatVersion,
    loadavgAtStart: Deno.loadavg(),
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function intFlag(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new SetupError(`--${name} must be an integer >= ${min}`);
  }
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: Deno.args, options: OPTIONS, strict: true });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values["duckdb-copy"]) {
    await duckdbCopy(values["duckdb-copy"], values["duckdb-out"]!);
    return 0;
  }
  const records = intFlag("records", values.records);
  const runs = intFlag("runs", values.runs, 0);
  const warmup = intFlag("warmup", values.warmup, 0);
  const partitions = intFlag("partitions", values.partitions);
  const freshSecs = intFlag("freshness-secs", values["freshness-secs"], 0);
  const freshRate = intFlag("freshness-rate", values["freshness-rate"]);
  const maxAge = intFlag("max-age", values["max-age"]);
  const rssRecords = intFlag("rss-records", values["rss-records"], 0);
  const batch: Record<string, number> = {};
  for (const pair of values.batch.split(",").filter(Boolean)) {
    const [key, value] = pair.split("=");
    if (!/^[a-z_]+$/.test(key) || !Number.isFinite(Number(value))) {
      throw new SetupError(`--batch wants key=number pairs, got ${pair}`);
    }
    batch[key] = Number(value);
  }
  const variants = values.variants.split(",").map((v) => v.trim()).filter(Boolean) as Variant[];
  for (const v of variants) {
    if (!VARIANTS.includes(v)) {
      throw new SetupError(`unknown variant ${v} (${VARIANTS.join(", ")})`);
    }
  }

  await preflight(["java", "mvn", "kcat", ...(variants.includes("s3") ? ["moto_server"] : [])]);
  const kcatVersion = new TextDecoder().decode(
    (await new Deno.Command("kcat", { args: ["-V"], stdout: "piped" }).output()).stdout,
  ).match(/Version (\S+) .*?librdkafka (\S+)/)?.slice(1).join(", librdkafka ") ?? "?";
  const env = environment(kcatVersion);
  log(
    `machine: ${env.cpu}, ${env.nproc} CPUs, Linux ${env.kernel}, load ${
      env.loadavgAtStart.map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  if (env.loadavgAtStart[0] > 0.5) {
    log("note: the machine is not idle (load average above); numbers will be noisy");
  }

  const tmp = await Deno.makeTempDir({ prefix: "cryptopipe-bench-" });
  const stops: Array<() => Promise<void>> = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log("interrupted: stopping children and cleaning up");
    killChildren();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    log(`temp dir ${tmp}`);
    const broker: Broker = await startBroker(join(tmp, "kafka"), { log });
    stops.push(() => broker.stop());
    let s3Endpoint: string | undefined;
    if (variants.includes("s3")) {
      const moto = await startMoto(log);
      stops.push(moto.stop);
      s3Endpoint = moto.endpoint;
    }

    log(`\n== pre-fill: ${records.toLocaleString("en")} records, ${partitions} partitions`);
    const fill = await fillTopic({
      brokers: broker.bootstrap,
      topic: "bench.ticker.v1",
      records,
      partitions,
      log,
    });
    const denoFlags = values["deno-flags"].split(" ").filter(Boolean);
    const bench: Bench = { tmp, brokers: broker.bootstrap, s3Endpoint, fill, denoFlags, batch };

    const measurements: Measurement[] = [];
    for (let run = -warmup; run < runs; run++) {
      // Rotate the order each run so no variant always follows the same neighbour.
      const shift = ((run % variants.length) + variants.length) % variants.length;
      const order = [...variants.slice(shift), ...variants.slice(0, shift)];
      log(
        `\n== ${run < 0 ? `warm-up ${run + warmup + 1}/${warmup}` : `run ${run + 1}/${runs}`}: ${
          order.join(", ")
        }`,
      );
      for (const variant of order) {
        if (interrupted) throw new Error("interrupted");
        const m = await benchVariant(bench, variant, run);
        log(
          `  ${LABELS[variant].padEnd(30)} ${fmt(records / m.seconds).padStart(9)} rec/s  ${
            fmt(m.seconds, 2)
          }s  cpu ${fmt(m.cpuSeconds, 1)}s  rss ${fmt(m.peakRssMib)} MiB${
            m.files !== undefined ? `  ${m.files} files` : ""
          }${m.rebalances ? `  REBALANCES ${m.rebalances}` : ""}`,
        );
        if (run >= 0) measurements.push(m);
      }
    }

    let freshness: Freshness | undefined;
    if (freshSecs > 0 && !interrupted) {
      log(`\n== freshness: live stream, ${freshRate} records/s for ${freshSecs}s`);
      freshness = await benchFreshness(bench, freshSecs, freshRate, maxAge);
    }
    let rss: RssRun | undefined;
    if (rssRecords > 0 && !interrupted) rss = await benchRss(bench, rssRecords, partitions);
    let profile: ProfileSummary | undefined;
    if (values.profile && !interrupted) {
      log(`\n== CPU profile of one local consume`);
      profile = await benchProfile(bench);
    }

    const report = buildReport({
      overrides: { denoFlags, batch },
      env,
      fill,
      runs,
      warmup,
      variants,
      measurements,
      freshness,
      rss,
      profile,
    });
    console.log(report.text);
    if (values.json) {
      await Deno.writeTextFile(values.json, JSON.stringify(report.json, null, 2) + "\n");
      log(`results written to ${values.json}`);
    }
    return report.pass ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    killChildren();
    for (const stop of stops.reverse()) await stop().catch(() => {});
    if (values.keep) log(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function buildReport(input: {
  overrides: { denoFlags: string[]; batch: Record<string, number> };
  env: ReturnType<typeof environment>;
  fill: FillResult;
  runs: number;
  warmup: number;
  variants: Variant[];
  measurements: Measurement[];
  freshness?: Freshness;
  rss?: RssRun;
  profile?: ProfileSummary;
}): { text: string; json: unknown; pass: boolean } {
  const { env, fill, measurements, freshness, rss, profile } = input;
  const summaries = input.variants.map((v) =>
    summarize(v, measurements.filter((m) => m.variant === v), fill)
  );
  const lines: string[] = [];
  lines.push(
    `\ncryptopipe consume benchmark: ${
      fill.records.toLocaleString("en")
    } records × ${input.runs} runs` +
      `${input.warmup ? ` (+${input.warmup} warm-up)` : ""}, ${fill.partitions} partitions, ` +
      `mean JSON ${fmt(fill.avgJsonBytes, 1)} B, data sha256 ${fill.sha256.slice(0, 16)}…`,
  );
  lines.push(
    `${env.cpu}, ${env.nproc} CPUs, Linux ${env.kernel}, Deno ${env.deno}, Kafka ${env.kafka}, kcat ${env.kcat}${
      duckdbVersion === "?" ? "" : `, DuckDB ${duckdbVersion}`
    }; ` +
      `broker, clients and bench share the machine (unpinned)`,
  );
  const { denoFlags, batch } = input.overrides;
  if (denoFlags.length || Object.keys(batch).length) {
    lines.push(
      `cryptopipe overrides: deno flags [${denoFlags.join(" ")}], [batch] ${JSON.stringify(batch)}`,
    );
  }
  lines.push(
    "records/s: median [min–max]; MB/s = JSON bytes in, out MB/s = Parquet bytes written " +
      "(10^6); CPU-s/1M from the kernel's child accounting; RSS = peak VmHWM in MiB (native: " +
      "max of kcat and the DuckDB process, which includes Deno's ~40 MiB base);\n" +
      "timed window: kcat = process wall time, native = kcat + DuckDB COPY, cryptopipe = first " +
      "message → last commit (busy_seconds, no start-up, no group join, no idle wait)\n",
  );
  const rows = [[
    "variant",
    "records/s",
    "[min–max]",
    "MB/s",
    "out MB/s",
    "CPU-s/1M",
    "peak RSS",
    "files",
    "mean file",
    "wall s",
  ]];
  for (const s of summaries) {
    rows.push([
      LABELS[s.variant],
      fmt(s.recordsPerSec.median),
      `[${fmt(s.recordsPerSec.min)}–${fmt(s.recordsPerSec.max)}]`,
      fmt(s.mbPerSec, 1),
      s.outMbPerSec !== undefined ? fmt(s.outMbPerSec, 1) : "-",
      fmt(s.cpuSecondsPerMillion, 1),
      fmt(s.peakRssMib),
      s.files !== undefined ? fmt(s.files) : "-",
      s.meanFileBytes !== undefined ? `${fmt(s.meanFileBytes / 1e6, 2)} MB` : "-",
      fmt(s.wallSeconds, 1),
    ]);
  }
  if (measurements.length > 0) lines.push(pad(rows));
  const ratios = [
    ratio(measurements, "local", "native"),
    ratio(measurements, "local", "kcat"),
    ratio(measurements, "s3", "native"),
    ratio(measurements, "s3", "kcat"),
    ratio(measurements, "native", "kcat"),
  ].filter((r) => r !== undefined);
  if (ratios.length) {
    lines.push("\nratios of records/s within each run: median [min–max]");
    for (const r of ratios) {
      lines.push(
        `  ${r.a} ÷ ${r.b}`.padEnd(20) + `${fmt(r.median, 2)} [${fmt(r.min, 2)}–${fmt(r.max, 2)}]`,
      );
    }
  }
  const checks: Array<{ name: string; value: string; pass: boolean }> = [];
  const localNative = ratios.find((r) => r.a === "local" && r.b === "native");
  if (localNative) {
    checks.push({
      name: `local Parquet ≥ ${TARGET_RATIO}× native pipeline`,
      value: `${fmt(localNative.median, 2)}×`,
      pass: localNative.median >= TARGET_RATIO,
    });
  }
  if (rss) {
    checks.push({
      name: `peak RSS ≤ ${TARGET_RSS_MIB} MiB over ${rss.records.toLocaleString("en")} records`,
      value: `${fmt(rss.peakRssMib)} MiB`,
      pass: rss.peakRssMib <= TARGET_RSS_MIB,
    });
    checks.push({
      name: "RSS flat (last-quarter peak ≤ first-quarter peak × 1.1 + 16 MiB)",
      value: `${fmt(rss.firstQuarterMib)} → ${fmt(rss.lastQuarterMib)} MiB`,
      pass: rss.flat,
    });
  } else {
    const local = summaries.find((s) => s.variant === "local" && s.runs > 0);
    if (local) {
      checks.push({
        name:
          `peak RSS ≤ ${TARGET_RSS_MIB} MiB (${fill.records.toLocaleString("en")}-record runs; ` +
          "use --rss-records for the 10M target)",
        value: `${fmt(local.peakRssMib)} MiB`,
        pass: local.peakRssMib <= TARGET_RSS_MIB,
      });
    }
  }
  if (freshness) {
    checks.push({
      name:
        `freshness p99 (visible − Kafka time) ≤ ${TARGET_FRESH_P99_S}s, max_age ${freshness.maxAgeSecs}s`,
      value: `${fmt(freshness.kafka.p99, 2)}s`,
      pass: freshness.kafka.p99 <= TARGET_FRESH_P99_S && freshness.rowsSeen === freshness.produced,
    });
  }
  if (freshness) {
    const f = freshness;
    lines.push(
      `\nfreshness: ${f.ratePerSecond} records/s for ${f.seconds}s, [batch] max_age_secs = ${f.maxAgeSecs} ` +
        `(p50 ≈ max_age/2 by construction); ${f.rowsSeen.toLocaleString("en")} of ` +
        `${
          f.produced.toLocaleString("en")
        } rows seen in ${f.files} files (watcher polls every 100 ms)`,
    );
    lines.push(
      `  visible − Kafka timestamp: p50 ${fmt(f.kafka.p50, 2)}s  p99 ${fmt(f.kafka.p99, 2)}s  max ${
        fmt(f.kafka.max, 2)
      }s`,
    );
    lines.push(
      `  visible − event_time:      p50 ${fmt(f.event.p50, 2)}s  p99 ${fmt(f.event.p99, 2)}s  max ${
        fmt(f.event.max, 2)
      }s`,
    );
  }
  if (rss) {
    lines.push(
      `\nmemory run: ${rss.records.toLocaleString("en")} records at ${
        fmt(rss.recordsPerSec)
      } records/s; ` +
        `peak RSS ${fmt(rss.peakRssMib)} MiB; max VmRSS per tenth of the run (MiB): ${
          rss.deciles.map((d) => fmt(d)).join(" ")
        }`,
    );
  }
  if (profile) {
    const table = (title: string, entries: ProfileSummary["self"]) => {
      lines.push(`\n${title}`);
      for (const e of entries) {
        lines.push(`  ${fmt(e.pct, 1).padStart(5)}%  ${fmt(e.ms).padStart(7)} ms  ${e.name}`);
      }
    };
    lines.push(
      `\nCPU profile of one local consume: ${fmt(profile.totalMs)} ms of non-idle samples`,
    );
    table("by module (self time)", profile.modules);
    table("top functions by self time", profile.self);
    table("top functions by inclusive time", profile.inclusive);
  }
  if (checks.length) {
    lines.push("\ntargets:");
    for (const c of checks) lines.push(`  ${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${c.value}`);
  }
  const pass = checks.every((c) => c.pass);
  return {
    text: lines.join("\n"),
    pass,
    json: {
      environment: env,
      overrides: input.overrides,
      data: fill,
      runs: input.runs,
      warmup: input.warmup,
      summaries,
      ratios,
      measurements,
      freshness,
      rss,
      profile,
      checks,
    },
  };
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`error: ${error instanceof SetupError ? error.message : (error as Error).stack}`);
  Deno.exit(error instanceof SetupError ? 2 : 3);
}
