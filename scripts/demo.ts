/**
 * `deno task demo`: the whole pipeline on this machine, in about half a minute.
 * Starts the local Kafka (unless CRYPTOPIPE_BUS__BROKERS names a broker), produces a bounded
 * simulated stream, consumes it into the local lake until idle, catalogs the lake, prints the
 * latest price per symbol with DuckDB and draws the last minute of prices (in the terminal and
 * as .cache/demo/prices.svg). Safe to run again: the lake and topic grow.
 */
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { freePort, REPO_ROOT, SetupError, startDemoBroker, stopDemoBroker } from "./local_kafka.ts";

const CONFIG = join("scripts", "demo.toml");
const RECORDS = 2000;
const CHART = join(".cache", "demo", "prices.svg");

function step(n: number, total: number, text: string): void {
  console.error(`\n\x1b[1m[${n}/${total}] ${text}\x1b[0m`);
}

async function cryptopipe(args: string[], env: Record<string, string>): Promise<void> {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "--config", CONFIG, ...args],
    cwd: REPO_ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    throw new Error(`cryptopipe ${args.join(" ")} failed with exit code ${status.code}`);
  }
}

/** The metric lines the demo shows: what moved, without histogram buckets. */
const SHOWN_METRICS =
  /^cryptopipe_(records_(in|out)_total|bytes_(in|out)_total|dead_letters_total|errors_total|consumer_lag_records|lake_files_total|flush_duration_seconds_(sum|count)|last_upload_timestamp_seconds|lake_data_freshness_seconds|buffered_bytes|component_stale)\b/;

/**
 * consume with the metrics endpoint on a free loopback port: once the lake has caught up
 * (lag 0, nothing buffered), print a scrape and the health answer, then stop it (SIGTERM).
 */
async function consumeWithMetrics(env: Record<string, string>): Promise<void> {
  const listen = `127.0.0.1:${freePort()}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "--config", CONFIG, "--mode", "consume"],
    cwd: REPO_ROOT,
    env: { ...env, CRYPTOPIPE_METRICS__LISTEN: listen },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  try {
    await printScrapeOnceCaughtUp(listen, () => exited);
  } finally {
    if (!exited) child.kill("SIGTERM");
  }
  const { code } = await status;
  if (code !== 0) throw new Error(`cryptopipe --mode consume failed with exit code ${code}`);
}

async function printScrapeOnceCaughtUp(listen: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  let scrape = "";
  while (true) {
    if (exited()) throw new Error("consume exited before it caught up");
    if (Date.now() > deadline) throw new Error("consume did not catch up within 120 s");
    await new Promise((r) => setTimeout(r, 500));
    scrape = await fetch(`http://${listen}/metrics`).then((r) => r.text()).catch(() => "");
    const value = (pattern: RegExp) =>
      [...scrape.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
    const lagKnown = /^cryptopipe_consumer_lag_records\{/m.test(scrape);
    const written = value(/^cryptopipe_records_out_total\{[^}]*\} (\S+)$/gm);
    const lag = value(/^cryptopipe_consumer_lag_records\{[^}]*\} (\S+)$/gm);
    const buffered = value(/^cryptopipe_buffered_bytes (\S+)$/gm);
    if (lagKnown && written > 0 && lag === 0 && buffered === 0) break;
  }
  const health = await fetch(`http://${listen}/health`).then(async (r) =>
    `${r.status} ${await r.text()}`
  );
  console.error(`\n\x1b[1mscrape of http://${listen}/metrics (a readable subset):\x1b[0m`);
  console.error(scrape.split("\n").filter((l) => SHOWN_METRICS.test(l)).join("\n"));
  console.error(`\x1b[1mGET /health:\x1b[0m ${health.trim()}`);
}

/**
 * A broker the user already runs: CRYPTOPIPE_BUS__BROKERS, else [bus] brokers in the user's
 * own config (CRYPTOPIPE_CONFIG or ./cryptopipe.toml). Otherwise the demo starts its own.
 */
async function configuredBrokers(): Promise<{ brokers: string; from: string } | undefined> {
  const fromEnv = Deno.env.get("CRYPTOPIPE_BUS__BROKERS");
  if (fromEnv) return { brokers: fromEnv, from: "CRYPTOPIPE_BUS__BROKERS" };
  const path = Deno.env.get("CRYPTOPIPE_CONFIG") ?? "cryptopipe.toml";
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  const brokers = (parseToml(text) as { bus?: { brokers?: unknown } }).bus?.brokers;
  return Array.isArray(brokers) && brokers.length > 0
    ? { brokers: brokers.join(","), from: `[bus] brokers in ${path}` }
    : undefined;
}

async function main(): Promise<number> {
  const started = Date.now();
  const total = 7;
  const env: Record<string, string> = {};
  let startedBroker = false;
  step(1, total, "Kafka");
  const configured = await configuredBrokers();
  if (configured) {
    console.error(`using the broker(s) from ${configured.from}: ${configured.brokers}`);
    env.CRYPTOPIPE_BUS__BROKERS = configured.brokers;
  } else {
    const broker = await startDemoBroker(9092);
    startedBroker = broker.startedHere;
    env.CRYPTOPIPE_BUS__BROKERS = broker.bootstrap;
    console.error(
      broker.startedHere
        ? `local Kafka started at ${broker.bootstrap}`
        : `local Kafka already running at ${broker.bootstrap}`,
    );
  }
  try {
    step(2, total, `produce: ${RECORDS} simulated ticker records → topic demo.ticker.v1`);
    await cryptopipe(["--mode", "produce", "--max-records", String(RECORDS)], env);
    step(3, total, "consume: topic → local lake (.cache/demo/lake), until caught up");
    await consumeWithMetrics(env);
    step(4, total, "catalog: register the lake's tables for DuckDB");
    await cryptopipe(["--mode", "catalog"], env);
    step(5, total, "query: records per symbol in the lake");
    await cryptopipe([
      "--mode",
      "query",
      "--sql",
      "SELECT symbol, count(*) AS records FROM ticker GROUP BY symbol ORDER BY symbol",
    ], env);
    step(6, total, "query --named latest: the latest price per symbol");
    await cryptopipe(["--mode", "query", "--named", "latest"], env);
    step(7, total, `query --format chart: the last minute of prices, also drawn to ${CHART}`);
    await cryptopipe([
      "--mode",
      "query",
      "--sql",
      "SELECT event_time, symbol, price FROM ticker " +
      "WHERE event_time >= (SELECT max(event_time) FROM ticker) - 60000",
      "--format",
      "chart",
      "--chart",
      CHART,
    ], env);
  } finally {
    if (startedBroker) {
      await stopDemoBroker();
      console.error("\nlocal Kafka stopped (its data stays in .cache/kafka/demo for the next run)");
    }
  }
  console.error(
    `\ndemo finished in ${
      ((Date.now() - started) / 1000).toFixed(1)
    }s. Lake files: .cache/demo/lake/; chart: ${CHART} (open it in a browser)`,
  );
  return 0;
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(
    `\ndemo failed: ${error instanceof SetupError ? error.message : (error as Error).message}`,
  );
  Deno.exit(1);
}
