/**
 * Benchmark data: pre-fill a Kafka topic with N valid ticker v1 records, fast and
 * reproducibly. The records come from the project's own simulated source (same seed, same
 * bytes on every run; event times are synthetic, 1 ms apart from a fixed start), are encoded
 * with `encodeRecord`/`messageKey`, and are loaded with `kcat -P` (no compression), one kcat per
 * partition, so no JS producer limits the fill rate. A SHA-256 of the `key\tvalue` lines is
 * logged so runs can be compared. Used by scripts/bench_consume.ts; also runs alone:
 *
 *   deno run -A scripts/bench_data.ts --brokers 127.0.0.1:9092 --topic bench --records 1000000
 *
 * Records carry no `cryptopipe-schema` header (kcat cannot set one per line); consume reads
 * the schema id from the body.
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { createBus } from "../src/bus/mod.ts";
import { denoConfigEnvironment, type LoadedConfig, parseConfig } from "../src/config/mod.ts";
import { silentLogger } from "../src/log.ts";
import { encodeRecord, messageKey, type TickerRecord } from "../src/record/mod.ts";
import { SimulatedSource } from "../src/source/simulated.ts";

/**
 * Twelve instruments: with the symbol → partition map below, 1, 2, 3, 4, 6 or 12 partitions
 * get equal shares (5 keys hashed onto 3 partitions would leave one partition light).
 */
export const BENCH_SYMBOLS = [
  "BTC-USD",
  "ETH-USD",
  "SOL-USD",
  "XRP-USD",
  "DOGE-USD",
  "ADA-USD",
  "LTC-USD",
  "DOT-USD",
  "AVAX-USD",
  "LINK-USD",
  "TRX-USD",
  "BCH-USD",
];
/** Event time of record 0; record i is i ms later (1M records span ~17 minutes, one hour). */
export const BENCH_START_MS = Date.UTC(2026, 0, 1, 0, 0, 0);
const BLOCK = 10_000;

export interface FillResult {
  readonly topic: string;
  readonly partitions: number;
  readonly records: number;
  /** Records per partition, as the broker reports them after the load. */
  readonly perPartition: number[];
  /** Sum of the message values (the JSON), in bytes. */
  readonly jsonBytes: number;
  readonly avgJsonBytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

/** A config for the project's own Kafka bus (environment overrides ignored: the bench is closed). */
export function benchConfig(toml: string, file = "bench.toml"): LoadedConfig {
  return parseConfig(toml, file, { ...denoConfigEnvironment(), envEntries: () => [] });
}

function busConfig(brokers: string, topic: string, partitions: number): LoadedConfig {
  return benchConfig(
    `[bus]\nbrokers = ["${brokers}"]\ntopic = "${topic}"\ntopic_partitions = ${partitions}\n`,
  );
}

/** Records per partition (high − low), through the project's Kafka bus. */
export async function topicCounts(brokers: string, topic: string): Promise<number[]> {
  const bus = createBus(busConfig(brokers, topic, 1), silentLogger);
  try {
    const offsets = await bus.topicOffsets(topic);
    return offsets.sort((a, b) => a.partition - b.partition).map((o) => o.high - o.low);
  } finally {
    await bus.close();
  }
}

export async function createTopic(brokers: string, topic: string, partitions: number) {
  const bus = createBus(busConfig(brokers, topic, partitions), silentLogger);
  try {
    await bus.ensureTopics([topic]);
  } finally {
    await bus.close();
  }
}

/**
 * The bench records, in order: the project's simulated source with a fixed seed and synthetic
 * event times 1 ms apart, so every run (and every benchmark) sees the same bytes.
 */
export function* benchRecords(count: number, seed = 42): Generator<TickerRecord, void> {
  const source = new SimulatedSource(
    "bench",
    { type: "simulated", symbols: BENCH_SYMBOLS, rate_per_second: 1, seed, volatility: 0.001 },
    { now: () => BENCH_START_MS, sleep: () => Promise.resolve() },
  );
  for (let i = 0; i < count; i++) yield source.next(BENCH_START_MS + i, i);
}

/** Create `topic` and load `records` simulated records into it. */
export async function fillTopic(options: {
  brokers: string;
  topic: string;
  records: number;
  partitions: number;
  seed?: number;
  log?: (line: string) => void;
}): Promise<FillResult> {
  const { brokers, topic, records, partitions } = options;
  const log = options.log ?? console.error;
  await createTopic(brokers, topic, partitions);
  const started = performance.now();
  const generated = benchRecords(records, options.seed);
  // One kcat per partition, fed through stdin: no temp file, so 10M records need no extra disk.
  const producers = Array.from({ length: partitions }, (_, p) => {
    const child = new Deno.Command("kcat", {
      args: ["-P", "-b", brokers, "-t", topic, "-p", String(p), "-K", "\t", "-z", "none", "-q"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return { child, writer: child.stdin.getWriter(), output: child.output() };
  });
  const hash = createHash("sha256");
  const encoder = new TextEncoder();
  let jsonBytes = 0;
  let lastReport = performance.now();
  try {
    for (let start = 0; start < records; start += BLOCK) {
      const end = Math.min(records, start + BLOCK);
      const lines: string[][] = Array.from({ length: partitions }, () => []);
      const all: string[] = [];
      for (let i = start; i < end; i++) {
        const record = generated.next().value!;
        const value = encodeRecord(record);
        jsonBytes += value.length; // ASCII JSON: characters are bytes
        const line = `${messageKey(record)}\t${value}\n`;
        all.push(line);
        // Every record of one symbol goes to the same partition: per-key order as in Kafka.
        lines[(i % BENCH_SYMBOLS.length) % partitions].push(line);
      }
      hash.update(all.join(""));
      for (let p = 0; p < partitions; p++) {
        if (lines[p].length > 0) await producers[p].writer.write(encoder.encode(lines[p].join("")));
      }
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        log(`  generated ${end.toLocaleString("en")} / ${records.toLocaleString("en")} records`);
      }
    }
  } finally {
    for (const p of producers) await p.writer.close().catch(() => {});
  }
  for (const p of producers) {
    const out = await p.output;
    if (!out.success) {
      throw new Error(`kcat -P failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    }
  }
  const perPartition = await topicCounts(brokers, topic);
  const loaded = perPartition.reduce((a, b) => a + b, 0);
  if (loaded !== records) {
    throw new Error(`topic ${topic} holds ${loaded} records after the load, expected ${records}`);
  }
  const result: FillResult = {
    topic,
    partitions,
    records,
    perPartition,
    jsonBytes,
    avgJsonBytes: jsonBytes / records,
    sha256: hash.digest("hex"),
    seconds: (performance.now() - started) / 1000,
  };
  log(
    `  loaded ${records.toLocaleString("en")} records into ${topic} (${partitions} partitions: ${
      perPartition.join("/")
    }) in ${result.seconds.toFixed(1)}s; mean JSON ${result.avgJsonBytes.toFixed(1)} B, total ${
      (jsonBytes / 1e6).toFixed(1)
    } MB, sha256 ${result.sha256}`,
  );
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      brokers: { type: "string", default: "127.0.0.1:9092" },
      topic: { type: "string", default: "bench.ticker.v1" },
      records: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "3" },
      seed: { type: "string", default: "42" },
    },
  });
  const result = await fillTopic({
    brokers: values.brokers,
    topic: values.topic,
    records: Number(values.records),
    partitions: Number(values.partitions),
    seed: Number(values.seed),
  });
  console.log(JSON.stringify(result));
}
