/**
 * Produce benchmark (docs reliability-and-bench.md §7, issue "produce"): replay → Kafka.
 * Starts its own Kafka broker in a temp dir, writes N ticker v1 records (scripts/bench_data.ts:
 * the same bytes every run) once as a replay CSV and once as `key<TAB>json` lines, then for each
 * repetition, with the variants interleaved, publishes all N into a fresh 3-partition topic:
 *
 *   kcat        `kcat -P` of the JSON lines, acks=all, idempotent: the native ceiling
 *   bus         the same lines sent through cryptopipe's Kafka bus (kafkajs, idempotent,
 *               1000 per send), no source, no validation: the JS client's own ceiling
 *   idempotent  `cryptopipe --mode produce` from the replay source (acks=all, idempotent: the
 *               default)
 *   plain       the same with `[produce] idempotent = false`, 5 sends in flight
 *
 * and reports records/s, CPU-seconds per million records and peak RSS, with medians over the
 * runs and the cryptopipe/kcat ratio taken within each run. Each topic is counted afterwards:
 * a fast run that lost records fails. Wall time includes process start (about 1 s for Deno):
 * use at least 300k records.
 *
 *   deno run -A scripts/bench_produce.ts [--records 500000] [--runs 3] [--json out.json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeRecord, messageKey, TICKER_COLUMNS } from "../src/record/mod.ts";
import { fileURLToPath } from "node:url";
import { createBus, type OutgoingMessage } from "../src/bus/mod.ts";
import { silentLogger } from "../src/log.ts";
import { benchConfig, benchRecords, createTopic, topicCounts } from "./bench_data.ts";
import { failed, killChildren, median, startChild } from "./bench_process.ts";
import { type Broker, KAFKA_VERSION, preflight, REPO_ROOT, startBroker } from "./local_kafka.ts";

const VARIANTS = ["kcat", "bus", "idempotent", "plain"] as const;
type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  kcat: "kcat -P (acks=all, idempotent)",
  bus: "kafkajs alone: pre-encoded lines through the bus",
  idempotent: "cryptopipe replay → Kafka (idempotent)",
  plain: "cryptopipe replay → Kafka (not idempotent)",
};
const TARGET_RATIO = 0.3;
const TARGET_RSS_MIB = 200;
const PARTITIONS = 3;

interface Measurement {
  readonly run: number;
  readonly variant: Variant;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly cpuSecondsPerMillion: number;
  readonly peakRssMib: number;
}

const log = (line: string) => console.error(line);

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The N records as a replay CSV and as kcat's `key\tvalue` lines; returns mean JSON bytes. */
async function writeInputs(records: number, csvPath: string, linesPath: string): Promise<number> {
  const names = TICKER_COLUMNS.map((c) => c.name);
  const csv = await Deno.open(csvPath, { write: true, create: true, truncate: true });
  const lines = await Deno.open(linesPath, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let jsonBytes = 0;
  try {
    await csv.write(encoder.encode(names.join(",") + "\n"));
    let csvChunk: string[] = [];
    let lineChunk: string[] = [];
    const flush = async () => {
      await csv.write(encoder.encode(csvChunk.join("")));
      await lines.write(encoder.encode(lineChunk.join("")));
      csvChunk = [];
      lineChunk = [];
    };
    for (const record of benchRecords(records)) {
      const row = record as unknown as Record<string, unknown>;
      csvChunk.push(names.map((n) => csvCell(row[n])).join(",") + "\n");
      const value = encodeRecord(record);
      jsonBytes += value.length;
      lineChunk.push(`${messageKey(record)}\t${value}\n`);
      if (csvChunk.length >= 10_000) await flush();
    }
    await flush();
  } finally {
    csv.close();
    lines.close();
  }
  return jsonBytes / records;
}

function produceToml(brokers: string, topic: string, csvPath: string, variant: Variant): string {
  return [
    `[log]\nlevel = "info"\nformat = "json"\n`,
    `[sources.bench]\ntype = "replay"\npath = "${csvPath}"\nrate_per_second = 0\n`,
    `[bus]\nbrokers = ["${brokers}"]\ntopic = "${topic}"\ntopic_partitions = ${PARTITIONS}\n`,
    variant === "plain" ? `[produce]\nidempotent = false\nmax_in_flight = 5\n` : "",
  ].join("\n");
}

async function runVariant(
  variant: Variant,
  run: number,
  bench: { tmp: string; brokers: string; records: number; csvPath: string; linesPath: string },
): Promise<Measurement> {
  const topic = `bench-produce-${run}-${variant}`;
  let running;
  if (variant === "kcat") {
    // kcat would auto-create a 1-partition topic: create it with the bench's partitions first.
    await createTopic(bench.brokers, topic, PARTITIONS);
    running = startChild("kcat", [
      "-P",
      "-b",
      bench.brokers,
      "-t",
      topic,
      "-K",
      "\t",
      "-z",
      "none",
      "-X",
      "enable.idempotence=true",
      "-X",
      "acks=all",
      "-l",
      bench.linesPath,
    ]);
  } else if (variant === "bus") {
    const config = join(bench.tmp, `${topic}.toml`);
    await Deno.writeTextFile(config, produceToml(bench.brokers, topic, bench.csvPath, variant));
    running = startChild(Deno.execPath(), [
      "run",
      "--allow-all",
      fileURLToPath(import.meta.url),
      "--send-lines",
      bench.linesPath,
      "--config",
      config,
    ]);
  } else {
    const config = join(bench.tmp, `${topic}.toml`);
    await Deno.writeTextFile(config, produceToml(bench.brokers, topic, bench.csvPath, variant));
    running = startChild(Deno.execPath(), [
      "run",
      "--allow-all",
      join(REPO_ROOT, "main.ts"),
      "--mode",
      "produce",
      "--config",
      config,
    ]);
  }
  const result = await running.done;
  if (result.code !== 0) throw failed(LABELS[variant], result);
  const counts = await topicCounts(bench.brokers, topic);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== bench.records) {
    throw new Error(`${LABELS[variant]}: topic ${topic} holds ${total}, expected ${bench.records}`);
  }
  return {
    run,
    variant,
    seconds: result.wallSeconds,
    recordsPerSecond: bench.records / result.wallSeconds,
    cpuSecondsPerMillion: result.cpuSeconds / (bench.records / 1e6),
    peakRssMib: result.peakRssKb / 1024,
  };
}

function report(measurements: Measurement[], records: number, avgJsonBytes: number) {
  const of = (v: Variant) => measurements.filter((m) => m.variant === v);
  const ratios = (v: Variant) =>
    [...new Set(measurements.map((m) => m.run))].map((run) => {
      const mine = measurements.find((m) => m.run === run && m.variant === v)!;
      const ceiling = measurements.find((m) => m.run === run && m.variant === "kcat")!;
      return mine.recordsPerSecond / ceiling.recordsPerSecond;
    });
  const rows = VARIANTS.map((v) => {
    const ms = of(v);
    return {
      variant: v,
      label: LABELS[v],
      recordsPerSecond: median(ms.map((m) => m.recordsPerSecond)),
      cpuSecondsPerMillion: median(ms.map((m) => m.cpuSecondsPerMillion)),
      peakRssMib: median(ms.map((m) => m.peakRssMib)),
      ratioToKcat: v === "kcat" ? 1 : median(ratios(v)),
      runs: ms.map((m) => Math.round(m.recordsPerSecond)),
    };
  });
  const idempotent = rows.find((r) => r.variant === "idempotent")!;
  const pass = idempotent.ratioToKcat >= TARGET_RATIO && idempotent.peakRssMib < TARGET_RSS_MIB;
  const lines = [
    `produce benchmark: ${records.toLocaleString("en")} ticker v1 records ` +
    `(${avgJsonBytes.toFixed(0)} B JSON each), ${PARTITIONS} partitions, Kafka ${KAFKA_VERSION}, ` +
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; medians of ${
      of("kcat").length
    } runs`,
    "",
    "| variant | records/s | × kcat (same run) | CPU-s / M records | peak RSS MiB | runs (records/s) |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    ...rows.map((r) =>
      `| ${r.label} | ${Math.round(r.recordsPerSecond).toLocaleString("en")} | ${
        r.ratioToKcat.toFixed(2)
      } | ${r.cpuSecondsPerMillion.toFixed(1)} | ${r.peakRssMib.toFixed(0)} | ${
        r.runs.map((n) => n.toLocaleString("en")).join(", ")
      } |`
    ),
    "",
    `target: idempotent ≥ ${TARGET_RATIO}× kcat and peak RSS < ${TARGET_RSS_MIB} MiB: ${
      pass ? "met" : "NOT met"
    }`,
  ];
  return { text: lines.join("\n"), json: { records, avgJsonBytes, rows, measurements, pass } };
}

/** The `bus` variant's child: send the `key\tvalue` lines through the project's Kafka bus. */
async function sendLines(linesPath: string, configPath: string): Promise<number> {
  const config = benchConfig(await Deno.readTextFile(configPath), configPath);
  const bus = createBus(config, silentLogger);
  await bus.ensureTopics([config.bus.topic]);
  const publisher = await bus.publisher();
  try {
    const text = await Deno.readTextFile(linesPath);
    let batch: OutgoingMessage[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      const tab = line.indexOf("\t");
      batch.push({ key: line.slice(0, tab), value: line.slice(tab + 1) });
      if (batch.length === 1000) {
        await publisher.send(config.bus.topic, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await publisher.send(config.bus.topic, batch);
  } finally {
    await publisher.close();
    await bus.close();
  }
  return 0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "send-lines": { type: "string" },
      config: { type: "string" },
      records: { type: "string", default: "500000" },
      runs: { type: "string", default: "3" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("deno run -A scripts/bench_produce.ts [--records 500000] [--runs 3] [--json F]");
    return 0;
  }
  if (values["send-lines"]) return await sendLines(values["send-lines"], values.config!);
  const records = Number(values.records);
  const runs = Number(values.runs);
  await preflight(["java", "mvn", "kcat"]);
  const tmp = await Deno.makeTempDir({ prefix: "cryptopipe-bench-produce-" });
  let broker: Broker | undefined;
  const onSignal = () => killChildren();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    broker = await startBroker(join(tmp, "kafka"), { log });
    const csvPath = join(tmp, "replay.csv");
    const linesPath = join(tmp, "records.tsv");
    log(`writing ${records.toLocaleString("en")} records as replay CSV and kcat lines ...`);
    const avgJsonBytes = await writeInputs(records, csvPath, linesPath);
    const measurements: Measurement[] = [];
    for (let run = 1; run <= runs; run++) {
      // Rotate the order, so no variant always runs first on a cold or warm machine.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + run - 1) % VARIANTS.length]);
      for (const variant of order) {
        const m = await runVariant(variant, run, {
          tmp,
          brokers: broker.bootstrap,
          records,
          csvPath,
          linesPath,
        });
        measurements.push(m);
        log(
          `run ${run} ${LABELS[variant]}: ${Math.round(m.recordsPerSecond).toLocaleString("en")} ` +
            `records/s, ${m.cpuSecondsPerMillion.toFixed(1)} CPU-s/M, ${
              m.peakRssMib.toFixed(0)
            } MiB`,
        );
      }
    }
    const result = report(measurements, records, avgJsonBytes);
    console.log(result.text);
    if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(result.json, null, 2));
    return result.json.pass ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    killChildren();
    await broker?.stop().catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exitCode = await main();
