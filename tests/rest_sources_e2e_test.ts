/**
 * The five REST sources end to end, without internet: each polls the local exchange server
 * (tests/exchange_server.ts, the documented shapes) and publishes to the real Kafka broker;
 * kcat reads both topics back. Faults are scripted per path on the server, the real HTTP
 * path, so what is asserted is what actually lands in Kafka.
 */
import assert from "node:assert/strict";
import { validateTicker } from "../src/record/mod.ts";
import { type ExchangeServer, startExchangeServer } from "./exchange_server.ts";
import { baseToml, cli, publishedJson, queryLake, uniqueName, workspace } from "./helpers.ts";
import { CliProcess, sleep } from "./processes.ts";

const HTML_PAGE =
  "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>";

function sourcesToml(server: ExchangeServer, names: readonly string[], extra = ""): string {
  const symbols: Record<string, string> = {
    coingecko: '["BTC-USD", "ETH-USD"]',
    binance: '["BTC-USDT", "ETH-USDT"]',
    cryptocompare: '["BTC-USD", "ETH-USD"]',
    coinbase: '["BTC-USD", "ETH-USD"]',
    kraken: '["BTC-USD", "DOGE-USD"]',
  };
  return names.map((name) => `
[sources.${name}]
type = "${name}"
symbols = ${symbols[name]}
base_url = "${server.url}${name === "coingecko" ? "/api/v3" : ""}"
poll_interval_secs = 0.25
requests_per_minute = 6000
${extra}`).join("\n");
}

async function produce(config: string, seconds: number) {
  const run = await cli(["--mode", "produce", "--config", config, "--duration", `${seconds}s`]);
  assert.equal(run.code, 0, run.stderr);
  return run;
}

type Published = Awaited<ReturnType<typeof publishedJson>>[number];

Deno.test("rest sources e2e: all five providers publish valid, normalized records to Kafka; every scripted fault is survived, and bad responses land in the rejects topic", async () => {
  const server = startExchangeServer();
  try {
    const topic = uniqueName("rest");
    const { config } = await workspace(baseToml(
      topic,
      uniqueName("group"),
      sourcesToml(
        server,
        ["coingecko", "binance", "cryptocompare", "coinbase", "kraken"],
        "request_timeout_ms = 1000",
      ),
    ));
    server.fail("/api/v3/coins/markets", {
      status: 429,
      headers: { "retry-after": "3" },
      body: '{"status":{"error_code":429,"error_message":"You\'ve exceeded the Rate Limit"}}',
    });
    server.fail("/api/v3/ticker/24hr", {
      status: 418,
      headers: { "retry-after": "2" },
      body: '{"code":-1003,"msg":"Way too many requests; IP banned until 1717245296123."}',
    });
    server.fail(
      "/data/pricemultifull",
      {
        body: JSON.stringify({
          Response: "Error",
          Message: "You are over your rate limit please upgrade your account!",
          Type: 99,
        }),
      },
      {
        body: JSON.stringify({
          Response: "Error",
          Message: "cccagg_or_exchange market does not exist for this coin pair (XYZ-USD)",
          Type: 2,
        }),
      },
    );
    server.fail(
      "/products/BTC-USD/ticker",
      { status: 502, body: HTML_PAGE },
      { body: HTML_PAGE }, // an HTML page with status 200
      { truncate: true },
      { mutate: (body) => ({ ...(body as object), price: "NaN" }) },
      { mutate: (body) => ({ ...(body as object), price: "-5.00" }) },
    );
    server.fail(
      "/products/ETH-USD/ticker",
      {
        mutate: (body) => ({
          ...(body as object),
          time: new Date(Date.now() - 3_600_000).toISOString(),
        }),
      },
      { delayMs: 1500 }, // slower than request_timeout_ms below
    );
    server.fail(
      "/0/public/Ticker",
      { body: '{"error":["EGeneral:Too many requests"]}' },
      { body: '{"error":["EQuery:Unknown asset pair"]}' },
    );

    const run = await produce(config, 6);
    const records = await publishedJson(topic);
    const seen = new Set(records.map((r) => r.key));
    for (
      const key of [
        "coingecko:BTC-USD",
        "coingecko:ETH-USD",
        "binance:BTC-USDT",
        "binance:ETH-USDT",
        "cryptocompare:BTC-USD",
        "cryptocompare:ETH-USD",
        "coinbase:BTC-USD",
        "coinbase:ETH-USD",
        "kraken:BTC-USD",
        "kraken:DOGE-USD",
      ]
    ) assert.ok(seen.has(key), `${key} published (got ${[...seen].join(", ")})`);
    for (const { key, value: record, headers, timestamp } of records) {
      assert.equal(headers, "cryptopipe-schema=cryptopipe.ticker.v1");
      // The Kafka timestamp is the produce time, not the provider's event time.
      assert.ok(timestamp >= (record.ingest_time as number) && timestamp <= Date.now());
      const validation = validateTicker(record);
      assert.ok(validation.ok, `${key}: ${JSON.stringify(validation)}`);
      assert.equal(key, `${record.source}:${record.symbol}`);
      assert.equal(record.channel, "rest");
      assert.ok((record.price as number) > 0 && Number.isFinite(record.price));
    }
    // USDT stays USDT: no USD price without an explicit basis.
    for (const { value: record } of records.filter((r) => r.value.source === "binance")) {
      assert.equal(record.quote, "USDT");
      assert.equal(record.price_usd, null);
    }
    for (const { value: record } of records.filter((r) => r.value.source === "kraken")) {
      assert.equal(record.event_time, null, "Kraken has no event time");
      assert.match(String(record.source_symbol), /^(XXBTZUSD|XDGUSD)$/);
    }

    const rejects = (await publishedJson(`${topic}.rejects`)).map((r) => r.value);
    const problems = rejects.map((r) => `${r.origin} ${(r.problems as string[]).join("; ")}`);
    for (
      const expected of [
        /coinbase:GET \/products\/BTC-USD\/ticker not JSON: <!DOCTYPE html>/,
        /coinbase:GET \/products\/BTC-USD\/ticker not JSON: \{/, // truncated
        /coinbase.*price: .*"NaN"/,
        /price: must be > 0/,
        /event_time: .* from the local clock/,
        /cryptocompare:.* error in the response: Type 2: cccagg_or_exchange market does not/,
        /kraken:.* error in the response: EQuery:Unknown asset pair/,
      ]
    ) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `a reject matching ${expected}:\n${problems.join("\n")}`,
      );
    }
    for (const reject of rejects) assert.equal(typeof reject.raw, "string");

    // Throttling and bans, as the server saw them.
    const times = (prefix: string) =>
      server.requests.filter((r) => r.line.startsWith(`GET ${prefix}`)).map((r) => r.at);
    const [gecko1, gecko2] = times("/api/v3/coins/markets");
    assert.ok(
      gecko2 - gecko1 >= 2950,
      `CoinGecko waited out Retry-After: 3, longer than its backoff (${gecko2 - gecko1} ms)`,
    );
    const [binance1, binance2] = times("/api/v3/ticker/24hr");
    assert.ok(
      binance2 - binance1 >= 1950,
      `Binance 418: paused for its 2 s ban (${binance2 - binance1} ms)`,
    );
    assert.match(run.stderr, /^error\s+feed disconnected: .*HTTP 418.*this source pauses for 2s/m);
    assert.match(run.stderr, /throttled \(HTTP 200 body\): Type 99: You are over your rate limit/);
    assert.match(run.stderr, /throttled \(HTTP 200 body\): EGeneral:Too many requests/);
    assert.match(run.stderr, /HTTP 502: <!DOCTYPE html>/);
    assert.match(run.stderr, /no response within 1000 ms \(request_timeout_ms\)/);

    // The project's own consumer reads the same records into the lake.
    const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);
    const lake = await queryLake(
      config,
      "SELECT source || ':' || symbol AS key, count(*) AS n FROM ticker GROUP BY 1 ORDER BY 1",
    );
    const perKey = Object.groupBy(records, (r) => r.key);
    assert.deepEqual(
      lake.map((r) => [r.key, r.n]),
      Object.keys(perKey).sort().map((k) => [k, perKey[k]!.length]),
    );

    // The health of each poller, as consumers see it on the status topic.
    const statuses = (await publishedJson(`${topic}.status`)).map((r) => r.value);
    const events = (source: string) =>
      statuses.filter((s) => s.source === source).map((s) => `${s.event}: ${s.detail}`);
    assert.match(events("binance")[0], /^disconnected: .*HTTP 418.*pauses for 2s/);
    assert.match(events("binance")[1], /^connected: recovered after 1 failed polls/);
    assert.match(events("coingecko")[0], /^disconnected: .*HTTP 429/);
    assert.match(events("coingecko")[1], /^connected: recovered/);
    assert.match(events("coinbase")[0], /^disconnected: .*HTTP 502/);
    for (const source of ["coingecko", "binance", "cryptocompare", "coinbase", "kraken"]) {
      assert.equal(events(source).at(-1), "stopped: stopped on request", source);
    }
    for (const status of statuses) assert.equal(status.schema, "cryptopipe.status.v1");
  } finally {
    await server.close();
  }
});

Deno.test("rest sources e2e: a 451 geo-block stops that source with one clear error; the other source goes on", async () => {
  const server = startExchangeServer();
  try {
    const topic = uniqueName("geo");
    const { config } = await workspace(
      baseToml(topic, uniqueName("group"), sourcesToml(server, ["binance", "kraken"])),
    );
    server.fail("/api/v3/ticker/24hr", {
      status: 451,
      body:
        '{"code":0,"msg":"Service unavailable from a restricted location according to b. Eligibility"}',
    });
    const run = await produce(config, 2);
    const lines = run.stderr.split("\n").filter((l) => /HTTP 451/.test(l));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0],
      /^error\s+feed stopped: .*the provider refuses this location.*this source stops \(the other sources go on\)/,
    );
    assert.equal(
      server.requests.filter((r) => r.line.startsWith("GET /api/v3/ticker/24hr")).length,
      1,
      "never asked again",
    );
    const keys = new Set((await publishedJson(topic)).map((r) => r.key));
    assert.deepEqual([...keys].sort(), ["kraken:BTC-USD", "kraken:DOGE-USD"]);
    const binance = (await publishedJson(`${topic}.status`)).filter((r) => r.key === "binance");
    assert.deepEqual(binance.map((r) => r.value.event), ["stopped"]);
    assert.match(String(binance[0].value.detail), /HTTP 451/);
  } finally {
    await server.close();
  }
});

Deno.test("rest sources e2e: unchanged polls are not republished; a changed Kraken price is (no event time: price, bid, ask and volumes compared)", async () => {
  const server = startExchangeServer();
  try {
    const topic = uniqueName("dedup");
    const { config } = await workspace(
      baseToml(topic, uniqueName("group"), sourcesToml(server, ["kraken", "coinbase"])),
    );
    server.freeze("/0/public/Ticker", true);
    server.freeze("/products/", true);
    await produce(config, 2);
    const first = await publishedJson(topic);
    const polls = server.requests.filter((r) => r.line.startsWith("GET /0/public/Ticker")).length;
    assert.ok(polls >= 4, `kraken polled ${polls} times`);
    const count = (records: Published[], key: string) =>
      records.filter((r) => r.key === key).length;
    assert.equal(count(first, "kraken:BTC-USD"), 1, "identical answers: published once");
    assert.equal(count(first, "coinbase:BTC-USD"), 1, "same event_time: published once");

    server.freeze("/0/public/Ticker", false); // prices move again
    await produce(config, 1.5);
    const second = await publishedJson(topic);
    assert.ok(count(second, "kraken:BTC-USD") > 1, "a changed Kraken price is published");
    const prices = second.filter((r) => r.key === "kraken:BTC-USD").slice(1).map((r) =>
      r.value.price
    );
    prices.slice(1).forEach((price, i) =>
      assert.notEqual(price, prices[i], "each published tick differs from the one before")
    );
  } finally {
    await server.close();
  }
});

Deno.test("produce SIGTERM mid-stream: exits 0 within 5 s, and every record it counted as published is in the topic", async () => {
  const topic = uniqueName("term");
  const { config } = await workspace(baseToml(
    topic,
    uniqueName("group"),
    `
[sources.sim]
type = "simulated"
rate_per_second = 20000

[produce]
batch_max_records = 500
`,
  ));
  const producer = new CliProcess("producer", ["--mode", "produce", "--config", config]);
  try {
    await producer.waitFor(/producing/, 20_000);
    await sleep(1500);
    const signalled = Date.now();
    const status = await producer.stop("SIGTERM", 10_000);
    const took = Date.now() - signalled;
    assert.equal(status.code, 0, producer.stderr);
    assert.ok(took < 5_000, `stopped in ${took} ms`);
    const counted = Number(/produce finished .*records=(\d+)/.exec(producer.stderr)?.[1]);
    assert.ok(counted > 1000, producer.stderr);
    assert.equal((await publishedJson(topic)).length, counted, "in-flight batches were flushed");
  } finally {
    await producer.dispose();
  }
});

Deno.test("rest sources e2e: when every source has stopped for good (here one, geo-blocked), produce exits 3 instead of 0", async () => {
  const server = startExchangeServer();
  try {
    const { config } = await workspace(
      baseToml(uniqueName("allstop"), uniqueName("group"), sourcesToml(server, ["binance"])),
    );
    server.fail("/api/v3/ticker/24hr", { status: 451, body: '{"code":0,"msg":"restricted"}' });
    const run = await cli(["--mode", "produce", "--config", config, "--duration", "20s"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      /^error: every source stopped on an error it does not retry \(binance\)/m,
    );
  } finally {
    await server.close();
  }
});
