/**
 * The three WebSocket sources end to end, without internet: `cryptopipe --mode produce` runs as
 * a subprocess against the local WebSocket server (src/source/ws_testing.ts, the documented
 * stream shapes) and the real Kafka broker; faults are scripted on the server while it runs
 * (a dropped connection, a sequence gap, a silent connection, garbage), and kcat reads the
 * records, rejects and status topics back, so what is asserted is what actually landed.
 */
import assert from "node:assert/strict";
import { validateTicker } from "../src/record/mod.ts";
import { type Provider, startWsServer, type WsServer } from "../src/source/ws_testing.ts";
import { baseToml, cli, publishedJson, uniqueName, workspace } from "./helpers.ts";

const SOURCES: Record<Provider, { name: string; type: string; symbols: string[] }> = {
  binance: { name: "binance_stream", type: "binance_ws", symbols: ["BTC-USDT", "ETH-USDT"] },
  coinbase: { name: "coinbase_stream", type: "coinbase_ws", symbols: ["BTC-USD", "ETH-USD"] },
  kraken: { name: "kraken_stream", type: "kraken_ws", symbols: ["BTC-USD", "DOGE-USD"] },
};

function sourcesToml(server: WsServer): string {
  return (Object.keys(SOURCES) as Provider[]).map((provider) => {
    const { name, type, symbols } = SOURCES[provider];
    return `
[sources.${name}]
type = "${type}"
symbols = ${JSON.stringify(symbols)}
url = "${server.url(provider)}"
silence_timeout_secs = 0.4
reconnect_max_secs = 2
`;
  }).join("\n");
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("ws sources e2e: Binance, Coinbase and Kraken streams publish records to Kafka through a drop, a gap, a silence and garbage, with every status event on <topic>.status", async () => {
  const server = startWsServer({ tickMs: 100 });
  try {
    const topic = uniqueName("ws");
    const { config } = await workspace(baseToml(topic, uniqueName("group"), sourcesToml(server)));
    const running = cli(["--mode", "produce", "--config", config, "--duration", "4s"]);

    // Faults, each once the source has streamed for a moment.
    const connected = (provider: Provider) => server.connections(provider) >= 1;
    await Promise.all([
      waitFor("binance", () => connected("binance")).then(() => pause(300)).then(() =>
        server.drop("binance")
      ),
      waitFor("coinbase", () => connected("coinbase")).then(() => pause(300)).then(() => {
        server.skipSequence(3);
        server.sendGarbage("coinbase");
      }),
      waitFor("kraken", () => connected("kraken")).then(() => pause(300)).then(() =>
        server.silence("kraken")
      ),
    ]);
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /streams cannot be replayed/);
    assert.equal(server.connections("binance"), 2, "binance reconnected after the drop");
    assert.equal(server.connections("kraken"), 2, "kraken reconnected after the silence");
    assert.equal(server.connections("coinbase"), 1, "a gap is reported, not reconnected");

    const records = await publishedJson(topic);
    const keys = new Set(records.map((r) => r.key));
    for (const provider of Object.keys(SOURCES) as Provider[]) {
      for (const symbol of SOURCES[provider].symbols) {
        assert.ok(keys.has(`${provider}:${symbol}`), `${provider}:${symbol} (got ${[...keys]})`);
      }
    }
    for (const { key, value } of records) {
      const validation = validateTicker(value);
      assert.ok(validation.ok, `${key}: ${JSON.stringify(validation)}`);
      assert.equal(key, `${value.source}:${value.symbol}`);
      assert.equal(value.channel, "ws");
    }

    const statuses = (await publishedJson(`${topic}.status`)).map(({ key, value }) => {
      assert.equal(value.schema, "cryptopipe.status.v1");
      assert.equal(key, value.source);
      return value;
    });
    const of = (provider: Provider) => statuses.filter((s) => s.source === SOURCES[provider].name);
    const events = (provider: Provider) => of(provider).map((s) => s.event);
    assert.deepEqual(events("binance"), ["connected", "disconnected", "connected", "stopped"]);
    assert.deepEqual(events("kraken"), [
      "connected",
      "silence",
      "disconnected",
      "connected",
      "stopped",
    ]);
    assert.deepEqual(events("coinbase"), ["connected", "gap", "gap", "stopped"]);

    const [, dropped, back] = of("binance");
    assert.match(String(dropped.detail), /closed by the server \(code 1001: going away\)/);
    assert.equal(dropped.attempt, 1);
    const resumed = records.filter((r) =>
      r.value.source === "binance" && (r.value.ingest_time as number) > (back.at as number)
    );
    assert.ok(resumed.length > 0, "binance data resumed after the reconnect");
    assert.match(String(of("kraken")[2].detail), /silent for 0\.4 s/);
    for (const gap of of("coinbase").filter((s) => s.event === "gap")) {
      assert.ok(["BTC-USD", "ETH-USD"].includes(gap.symbol as string));
      assert.equal((gap.got_seq as number) - (gap.expected_seq as number), 3);
    }

    const rejects = (await publishedJson(`${topic}.rejects`)).map((r) => r.value);
    assert.equal(rejects.length, 6, JSON.stringify(rejects));
    for (const reject of rejects) assert.equal(reject.origin, "coinbase_stream:coinbase ws");
  } finally {
    await server.close();
  }
});
