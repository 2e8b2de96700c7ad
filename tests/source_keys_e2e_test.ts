/**
 * Source API keys end to end: the key is read from the environment variable the TOML names,
 * sent to the provider in its header, and found nowhere else — not in the logs (at debug
 * level), not on stdout, not in --print-config, not in any topic (rejects and status
 * included). The provider is the local exchange server, which records the headers it receives.
 */
import assert from "node:assert/strict";
import { startExchangeServer } from "./exchange_server.ts";
import {
  baseToml,
  cli,
  kcatDump,
  publishedJson,
  testBrokers,
  uniqueName,
  workspace,
} from "./helpers.ts";

const SENTINEL = "cg-sentinel-7f3a9";
const KEY_ENV = { CRYPTOPIPE_TEST_CG_KEY: SENTINEL };

Deno.test("source keys e2e: a CoinGecko api_key_env reaches the provider as x-cg-demo-api-key and nowhere else (logs, stdout, --print-config, records, rejects, status)", async () => {
  const server = startExchangeServer();
  try {
    const topic = uniqueName("keys");
    const { config } = await workspace(baseToml(
      topic,
      uniqueName("group"),
      `
[log]
level = "debug"

[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD", "ETH-USD"]
base_url = "${server.url}/api/v3"
poll_interval_secs = 0.25
requests_per_minute = 6000
api_key_env = "CRYPTOPIPE_TEST_CG_KEY"
`,
    ));
    // One bad answer, so there is a reject (with its raw body and origin) to search.
    server.fail("/api/v3/coins/markets", {
      body: "<!DOCTYPE html><html><body>Just a moment...</body></html>",
    });

    const run = await cli(
      ["--mode", "produce", "--config", config, "--duration", "3s"],
      KEY_ENV,
    );
    assert.equal(run.code, 0, run.stderr);
    const printed = await cli(["--print-config", "--config", config], KEY_ENV);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /CRYPTOPIPE_TEST_CG_KEY/, "the variable's name is shown");

    // The provider got the key, on every request.
    const polls = server.requests.filter((r) => r.line.startsWith("GET /api/v3/coins/markets"));
    assert.ok(polls.length >= 2, `polled (${polls.length} requests)`);
    for (const poll of polls) assert.equal(poll.headers["x-cg-demo-api-key"], SENTINEL);

    const records = await publishedJson(topic);
    assert.ok(records.some((r) => r.key === "coingecko:BTC-USD"), "records were published");
    const rejects = (await publishedJson(`${topic}.rejects`)).map((r) => r.value);
    assert.ok(
      rejects.some((r) => (r.problems as string[]).some((p) => p.startsWith("not JSON"))),
      `the scripted bad answer is a reject: ${JSON.stringify(rejects)}`,
    );

    const places: Record<string, string> = {
      "produce stderr (debug logs)": run.stderr,
      "produce stdout": run.stdout,
      "--print-config stdout": printed.stdout,
      "--print-config stderr": printed.stderr,
    };
    for (const t of [topic, `${topic}.rejects`, `${topic}.status`]) {
      places[`topic ${t}`] = (await kcatDump(testBrokers(), t))
        .map((m) => `${m.key}\t${m.payload}`).join("\n");
    }
    assert.match(run.stderr, /^debug .*rejected/m, "debug logs, rejects included, were searched");
    for (const [place, text] of Object.entries(places)) {
      assert.ok(!text.includes(SENTINEL), `the key leaked into ${place}`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("source keys e2e: an api_key_env on binance exits 2 naming the key (binance takes no API key)", async () => {
  const { config } = await workspace(baseToml(
    uniqueName("keys"),
    uniqueName("group"),
    `
[sources.b]
type = "binance"
symbols = ["BTC-USDT"]
api_key_env = "CRYPTOPIPE_TEST_CG_KEY"
`,
  ));
  const run = await cli(["--print-config", "--config", config], KEY_ENV);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /sources\.b\.api_key_env: binance takes no API key \(only coingecko and cryptocompare do\)/,
  );
  assert.ok(!run.stderr.includes(SENTINEL) && !run.stdout.includes(SENTINEL));
});
