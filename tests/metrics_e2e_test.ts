/**
 * Observability end to end, on the real broker: produce and consume serve /metrics and
 * /health on a free loopback port; the scraped counters are checked against what kcat sees
 * and what the lake holds; a stalled source (the local exchange server frozen) turns /health
 * 503; SIGHUP reloads the safe keys; every log line is one JSON object.
 */
import assert from "node:assert/strict";
import { type ExchangeServer, startExchangeServer } from "./exchange_server.ts";
import {
  baseToml,
  cli,
  kcatDump,
  kcatProduce,
  queryLake,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";
import { CliProcess, sleep } from "./processes.ts";
import { freePort, startBroker } from "../scripts/local_kafka.ts";

const JSON_LOGS = { CRYPTOPIPE_LOG__FORMAT: "json" };

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parse the text exposition format (the subset we write), checking HELP/TYPE come first. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.match(meta[3], /^(counter|gauge|histogram)$/);
        typed.add(meta[2]);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(m[1]) || typed.has(family), `${m[1]} has no TYPE line before it`);
    samples.push({ name: m[1], labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return samples;
}

function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  ).reduce((sum, s) => sum + s.value, 0);
}

/** The endpoint's base URL, from the process's "listening" log line (listen port 0). */
async function endpoint(process: CliProcess): Promise<string> {
  await process.waitFor(/metrics and health endpoint listening/, 30_000);
  const line = process.lines(/metrics and health endpoint listening/)[0];
  return JSON.parse(line).url.replace(/\/metrics$/, "");
}

async function scrape(base: string): Promise<Sample[]> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

async function health(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/health`);
  return { status: response.status, body: await response.json() };
}

async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (ok(last)) return last;
    await sleep(200);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** Every stderr line is one JSON object with time, level, mode and component. */
function assertJsonLogs(stderr: string, mode: string): Record<string, unknown>[] {
  const lines = stderr.trimEnd().split("\n");
  assert.ok(lines.length > 2, stderr);
  return lines.map((line) => {
    const entry = JSON.parse(line);
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.match(entry.level, /^(debug|info|warn|error)$/, line);
    assert.equal(entry.mode, mode, line);
    assert.equal(typeof entry.component, "string", line);
    assert.equal(typeof entry.message, "string", line);
    return entry;
  });
}

function binanceToml(server: ExchangeServer): string {
  return `
[sources.binance]
type = "binance"
symbols = ["BTC-USDT", "ETH-USDT"]
base_url = "${server.url}"
poll_interval_secs = 0.2
requests_per_minute = 6000

[metrics]
listen = "127.0.0.1:0"
source_stale_secs = 1.5
`;
}

Deno.test("metrics e2e: produce's counters match kcat, freshness per symbol is served, /health is 503 while a source stalls and 200 once it recovers, logs are JSON lines", async () => {
  const server = startExchangeServer();
  const topic = uniqueName("metrics-produce");
  const { config } = await workspace(baseToml(topic, uniqueName("g"), binanceToml(server)));
  const produce = new CliProcess("produce", ["--mode", "produce", "--config", config], JSON_LOGS);
  try {
    const base = await endpoint(produce);
    await until(
      "records flowing",
      () => scrape(base),
      (s) => total(s, "cryptopipe_records_out_total") >= 10,
    );
    assert.equal((await health(base)).status, 200);

    // The provider keeps answering the same tick: no new record, so the source goes stale.
    server.freeze("/api/v3/ticker/24hr", true);
    const stale = await until("503", () => health(base), (h) => h.status === 503, 15_000);
    assert.deepEqual(stale.body.stale, ["source/binance"]);
    await sleep(600); // a few flush rounds: everything taken is sent
    const frozen = await scrape(base);
    const out = total(frozen, "cryptopipe_records_out_total", { mode: "produce", target: topic });
    assert.equal(out, total(frozen, "cryptopipe_records_in_total", { source: "binance" }));
    assert.equal((await kcatDump(testBrokers(), topic)).length, out, "kcat sees what was counted");
    assert.ok(total(frozen, "cryptopipe_bytes_out_total") > out * 100);
    assert.equal(total(frozen, "cryptopipe_component_stale", { component: "source/binance" }), 1);
    assert.equal(total(frozen, "cryptopipe_component_stale", { component: "sink" }), 0);
    for (const symbol of ["BTC-USDT", "ETH-USDT"]) {
      const age = total(frozen, "cryptopipe_source_freshness_seconds", {
        source: "binance",
        symbol,
      });
      assert.ok(age > 1, `${symbol} freshness ${age}s while frozen`);
    }
    assert.ok(total(frozen, "cryptopipe_flush_duration_seconds_count", { mode: "produce" }) > 0);

    server.freeze("/api/v3/ticker/24hr", false);
    await until("200 again", () => health(base), (h) => h.status === 200, 15_000);
    const status = await produce.stop();
    assert.equal(status.code, 0, produce.tail());
    const logs = assertJsonLogs(produce.stderr, "produce");
    const components = new Set(logs.map((l) => l.component));
    for (const c of ["produce", "bus", "metrics"]) assert.ok(components.has(c), c);
  } finally {
    await produce.dispose();
    await server.close();
  }
});

Deno.test("metrics e2e: consume's counters match the lake (rows, dead letters by code), lag reaches 0, the last upload time is set", async () => {
  const topic = uniqueName("metrics-consume");
  const { config } = await workspace(baseToml(
    topic,
    uniqueName("g"),
    `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD", "SOL-USD"]
rate_per_second = 5000

[batch]
max_age_secs = 0.5
max_idle_secs = 0.5

[metrics]
listen = "127.0.0.1:0"
`,
  ));
  const produced = await cli(["--mode", "produce", "--config", config, "--max-records", "500"]);
  assert.equal(produced.code, 0, produced.stderr);
  await kcatProduce(testBrokers(), topic, ["k1\t{not json", "k2\t[]", "k3\tnull"]);
  const started = Date.now() / 1000;
  const consume = new CliProcess("consume", ["--mode", "consume", "--config", config], JSON_LOGS);
  try {
    const base = await endpoint(consume);
    const done = await until(
      "everything written and lag 0",
      () => scrape(base),
      (s) =>
        total(s, "cryptopipe_records_out_total", { target: "ticker" }) === 500 &&
        total(s, "cryptopipe_records_out_total", { target: "ticker_errors" }) === 3 &&
        s.some((x) => x.name === "cryptopipe_consumer_lag_records") &&
        total(s, "cryptopipe_consumer_lag_records") === 0,
    );
    assert.equal(total(done, "cryptopipe_records_in_total", { mode: "consume" }), 503);
    assert.equal(total(done, "cryptopipe_dead_letters_total", { mode: "consume" }), 3);
    assert.equal(total(done, "cryptopipe_errors_total", { kind: "dead_letter" }), 3);
    assert.ok(total(done, "cryptopipe_bytes_in_total") > 500 * 100);
    assert.ok(total(done, "cryptopipe_bytes_out_total") > 0);
    assert.ok(total(done, "cryptopipe_lake_files_total") >= 1);
    const uploaded = total(done, "cryptopipe_last_upload_timestamp_seconds");
    assert.ok(uploaded >= started && uploaded <= Date.now() / 1000 + 1, String(uploaded));
    assert.ok(total(done, "cryptopipe_lake_data_freshness_seconds") > 0);
    assert.equal(total(done, "cryptopipe_buffered_bytes"), 0);
    assert.equal((await health(base)).status, 200);
    const status = await consume.stop();
    assert.equal(status.code, 0, consume.tail());
    assertJsonLogs(consume.stderr, "consume");
  } finally {
    await consume.dispose();
  }
  const catalogued = await cli(["--mode", "catalog", "--config", config]);
  assert.equal(catalogued.code, 0, catalogued.stderr);
  const [{ rows }] = await queryLake(config, "SELECT count(*)::INTEGER AS rows FROM ticker");
  assert.equal(rows, 500, "the lake holds what records_out counted");
});

Deno.test("metrics e2e: SIGHUP applies log.level and the stale limits, names keys that need a restart, and survives a broken config", async () => {
  const topic = uniqueName("metrics-hup");
  const port = freePort();
  const toml = (level: string, staleSecs: number, extra = "") =>
    baseToml(
      topic,
      "hup",
      `
[log]
level = "${level}"

[sources.sim]
type = "simulated"
rate_per_second = 50

[metrics]
listen = "127.0.0.1:${port}"
source_stale_secs = ${staleSecs}
${extra}`,
    );
  const { config, lake } = await workspace(toml("warn", 300));
  const produce = new CliProcess("produce", ["--mode", "produce", "--config", config], JSON_LOGS);
  try {
    // At level warn nothing is logged: running = the endpoint answers and records were sent.
    const base = `http://127.0.0.1:${port}`;
    await until(
      "records sent",
      () => scrape(base).catch(() => []),
      (s) => total(s, "cryptopipe_records_out_total") > 0,
    );
    assert.equal(produce.count(/"level":"info"/), 0, produce.tail());
    const limit = async () =>
      ((await health(base)).body.components as Array<Record<string, unknown>>).find((c) =>
        c.component === "source/sim"
      )?.limit_secs;
    assert.equal(await limit(), 300);
    await Deno.writeTextFile(
      config,
      toml("info", 60).replace(`topic = "${topic}"`, `topic = "${topic}-b"`).replaceAll(
        "{lake}",
        lake,
      ),
    );
    produce.signal("SIGHUP");
    await produce.waitFor(/config reloaded/, 10_000);
    const reloaded = JSON.parse(produce.lines(/config reloaded/)[0]);
    assert.equal(reloaded.level, "warn");
    assert.equal(reloaded.applied, "log.level,metrics.source_stale_secs");
    assert.equal(reloaded.restart_needed, "bus.topic");
    assert.equal(reloaded.component, "reload");
    assert.equal(await limit(), 60, "the new source_stale_secs is in force");
    // log.level is now info: the next progress line (every 5 s) is logged.
    await produce.waitFor(/"level":"info","message":"progress"/, 15_000);

    await Deno.writeTextFile(config, "[batch]\nmax_records = 'lots'\n");
    produce.signal("SIGHUP");
    await produce.waitFor(/config reload failed/, 10_000);
    const failed = JSON.parse(produce.lines(/config reload failed/)[0]);
    assert.equal(failed.level, "error");
    assert.match(failed.error, /batch\.max_records/);
    await sleep(500);
    assert.ok(!produce.exited, "a bad config on reload does not stop the process");
    assert.equal(await limit(), 60, "the running config stays");
    const status = await produce.stop();
    assert.equal(status.code, 0, produce.tail());
    assertJsonLogs(produce.stderr, "produce");
  } finally {
    await produce.dispose();
  }
});

Deno.test("metrics e2e: a non-loopback listen address and a bad --log-format are usage errors; in JSON mode the error is one JSON line", async () => {
  const { config } = await workspace(`[metrics]\nlisten = "0.0.0.0:9464"\n`);
  const remote = await cli(["--mode", "produce", "--config", config], JSON_LOGS);
  assert.equal(remote.code, 2, remote.stderr);
  const lines = remote.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, remote.stderr);
  const entry = JSON.parse(lines[0]);
  assert.deepEqual([entry.level, entry.mode, entry.component, entry.exit_code], [
    "error",
    "produce",
    "cli",
    2,
  ]);
  assert.match(entry.message, /metrics\.listen: must be a loopback address/);
  const flag = await cli(["--mode", "produce", "--log-format", "xml"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^error: Invalid --log-format "xml"; use one of auto, text, json/);
});

Deno.test("metrics e2e: /health names the sink while the broker is frozen (SIGSTOP) and is 200 once it runs again", async () => {
  const kafkaDir = await Deno.makeTempDir({ prefix: "cryptopipe-test-broker-" });
  const broker = await startBroker(kafkaDir, { heapMb: 512, log: () => {} });
  const { config } = await workspace(`
[bus]
brokers = ["${broker.bootstrap}"]
topic = "${uniqueName("metrics-sink")}"

[sources.sim]
type = "simulated"
rate_per_second = 200

[metrics]
listen = "127.0.0.1:0"
sink_stale_secs = 1.5
`);
  const produce = new CliProcess("produce", ["--mode", "produce", "--config", config], JSON_LOGS);
  let frozen = false;
  try {
    const base = await endpoint(produce);
    await until(
      "records sent",
      () => scrape(base),
      (s) => total(s, "cryptopipe_records_out_total") > 0,
    );
    assert.equal((await health(base)).status, 200);
    Deno.kill(broker.pid, "SIGSTOP");
    frozen = true;
    const stale = await until("503", () => health(base), (h) => h.status === 503, 15_000);
    assert.deepEqual(stale.body.stale, ["sink"], "the source keeps producing; the sink is stuck");
    Deno.kill(broker.pid, "SIGCONT");
    frozen = false;
    await until("200 again", () => health(base), (h) => h.status === 200, 30_000);
    const status = await produce.stop();
    assert.equal(status.code, 0, produce.tail());
  } finally {
    if (frozen) Deno.kill(broker.pid, "SIGCONT");
    await produce.dispose();
    await broker.stop();
    await Deno.remove(kafkaDir, { recursive: true }).catch(() => {});
  }
});
