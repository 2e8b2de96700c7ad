/**
 * Secrets never leak: sentinel values stand in for every secret cryptopipe handles (the Kafka
 * SASL password from an environment variable and from a file, the CoinGecko and CryptoCompare
 * API keys, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN). Every mode runs with them, at debug
 * level — produce (REST sources on the local exchange server, which records the headers it
 * gets: the keys must be SENT), consume to a local lake and to S3 (moto), catalog,
 * catalog --dry-run, query, --print-config (TOML and JSON), --help — and so do failing runs:
 * a wrong password against the secured broker's SCRAM listener (over TLS), SASL against a
 * broker without SASL, an unreachable broker, a bucket that does not exist, an S3 endpoint that
 * is down. Then stdout, stderr (text logs, and JSON logs for the local consume), produce's
 * /metrics and /health, every lake and catalog file, the lake read back through DuckDB, the
 * objects in the bucket and the topics are searched for the sentinels: zero hits. A negative
 * control shows the same search finds a sentinel that is printed (one put in a non-secret key,
 * which the config error echoes).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort } from "../scripts/local_kafka.ts";
import { startExchangeServer } from "./exchange_server.ts";
import { CliProcess, sleep } from "./processes.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  type CliResult,
  freshBucket,
  kcatDump,
  secureTestBroker,
  testBrokers,
  testS3Endpoint,
  testS3Store,
  uniqueName,
  workspace,
} from "./helpers.ts";

const SENTINELS = {
  saslEnv: "SENTINEL-sasl-env-7f3a",
  saslFile: "SENTINEL-sasl-file-7f3a",
  coingecko: "SENTINEL-coingecko-key-7f3a",
  cryptocompare: "SENTINEL-cryptocompare-key-7f3a",
  awsSecret: "SENTINEL-aws-secret-7f3a",
  awsToken: "SENTINEL-aws-session-token-7f3a",
};
const ALL = Object.values(SENTINELS);

/** The environment of every run: each secret the TOML names, and AWS keys for moto. */
const ENV = {
  ...AWS_TEST_ENV,
  AWS_SECRET_ACCESS_KEY: SENTINELS.awsSecret,
  AWS_SESSION_TOKEN: SENTINELS.awsToken,
  CRYPTOPIPE_TEST_SASL_PASSWORD: SENTINELS.saslEnv,
  CRYPTOPIPE_TEST_CG_KEY: SENTINELS.coingecko,
};

/** Every place output can go, by name; searched at the end. */
const places = new Map<string, string>();

function record(name: string, run: CliResult): CliResult {
  places.set(`${name}: stdout`, run.stdout);
  places.set(`${name}: stderr`, run.stderr);
  return run;
}

/** Sentinels found in `text` (also hex- and base64-encoded, and URL-encoded). */
function hits(text: string): string[] {
  return ALL.filter((s) =>
    [
      s,
      encodeURIComponent(s),
      btoa(s),
      s.split("").map((c) => c.charCodeAt(0).toString(16)).join(""),
    ]
      .some((form) => text.includes(form))
  );
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const entry of Deno.readDir(d)) {
      const path = join(d, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) {
        out.set(path, new TextDecoder("latin1").decode(await Deno.readFile(path)));
      }
    }
  };
  await walk(dir).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  return out;
}

Deno.test("secret sentinels: no secret reaches output, logs, lake, catalog or topics in any mode, failing runs included", async () => {
  const server = startExchangeServer();
  try {
    const topic = uniqueName("sentinel");
    const group = uniqueName("group");
    // Every run serves /metrics and /health here (produce and consume); produce's is scraped.
    const metricsPort = freePort();
    const { dir, config, lake } = await workspace(baseToml(
      topic,
      group,
      `
[log]
level = "debug"

[metrics]
listen = "127.0.0.1:${metricsPort}"

[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD", "ETH-USD"]
base_url = "${server.url}/api/v3"
poll_interval_secs = 0.25
requests_per_minute = 6000
api_key_env = "CRYPTOPIPE_TEST_CG_KEY"

[sources.compare]
type = "cryptocompare"
symbols = ["BTC-USD"]
base_url = "${server.url}"
poll_interval_secs = 0.25
requests_per_minute = 6000
api_key_file = "{dir}/cryptocompare.key"

[batch]
max_age_secs = 1
until_idle_secs = 1.5

[encode]
format = "jsonl"
`,
    ));
    const keyFile = join(dir, "cryptocompare.key");
    await Deno.writeTextFile(keyFile, SENTINELS.cryptocompare + "\n", { mode: 0o600 });
    await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replace("{dir}", dir));
    // The same config with SASL (password from the environment, or from a file).
    const passwordFile = join(dir, "sasl.password");
    await Deno.writeTextFile(passwordFile, SENTINELS.saslFile, { mode: 0o600 });
    const withSasl = async (name: string, source: string, extra = "") => {
      const path = join(dir, `${name}.toml`);
      const base = (await Deno.readTextFile(config)).replace(/\[bus\.retry\]\nretries = 3\n/, "");
      await Deno.writeTextFile(
        path,
        `${base}\n${extra}\n[bus.retry]\nretries = 1\ninitial_ms = 100\nmax_ms = 200\n\n[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "pipe"\n${source}\n`,
      );
      return path;
    };
    const saslEnvConfig = await withSasl(
      "sasl-env",
      'password_env = "CRYPTOPIPE_TEST_SASL_PASSWORD"',
    );
    const saslFileConfig = await withSasl("sasl-file", `password_file = "${passwordFile}"`);

    // ---- the modes, succeeding ----
    record("--help", await cli(["--help"], ENV));
    for (
      const [name, path] of [["plain", config], ["sasl env", saslEnvConfig], [
        "sasl file",
        saslFileConfig,
      ]]
    ) {
      for (const format of ["toml", "json"]) {
        const printed = record(
          `--print-config ${name} ${format}`,
          await cli(["--print-config", "--config", path, "--format", format], ENV),
        );
        assert.equal(printed.code, 0, printed.stderr);
        assert.match(printed.stdout, /\[redacted\]/, "the secrets are listed, redacted");
      }
    }
    // A provider that echoes the key it was sent in its error body (some do): the reject
    // keeps the body for diagnosis, with the key blanked out.
    server.fail("/data/pricemultifull", {
      body: `<html><body>invalid api key ${SENTINELS.cryptocompare}</body></html>`,
    });
    const producing = new CliProcess(
      "produce",
      ["--mode", "produce", "--config", config, "--duration", "4s"],
      ENV,
    );
    let scraped = "";
    while (!producing.exited && !/cryptopipe_records_out_total\S* [1-9]/.test(scraped)) {
      await sleep(200);
      scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text())
        .catch(() => "");
    }
    assert.match(scraped, /cryptopipe_records_out_total\S* [1-9]/, "the metrics were scraped");
    places.set("produce: /metrics", scraped);
    places.set(
      "produce: /health",
      await fetch(`http://127.0.0.1:${metricsPort}/health`).then((r) => r.text()),
    );
    const producedStatus = await producing.status;
    await producing.stop();
    const produced = record("produce", {
      code: producedStatus.code,
      stdout: producing.stdout,
      stderr: producing.stderr,
    });
    assert.equal(produced.code, 0, produced.stderr);
    // The keys were sent to the provider, in its header.
    const sent = (prefix: string, header: string) =>
      server.requests.filter((r) => r.line.startsWith(`GET ${prefix}`)).map((r) =>
        r.headers[header]
      );
    assert.ok(sent("/api/v3/coins/markets", "x-cg-demo-api-key").includes(SENTINELS.coingecko));
    assert.ok(
      sent("/data/pricemultifull", "authorization").includes(`Apikey ${SENTINELS.cryptocompare}`),
    );

    // JSON logs, as under journald (the other runs log text).
    const consumed = record(
      "consume (local)",
      await cli(["--mode", "consume", "--config", config, "--until-idle"], {
        ...ENV,
        CRYPTOPIPE_LOG__FORMAT: "json",
      }),
    );
    assert.match(consumed.stderr, /^\{"time":/m, "JSON logs were searched");
    assert.equal(consumed.code, 0, consumed.stderr);
    record(
      "catalog --dry-run",
      await cli(["--mode", "catalog", "--config", config, "--dry-run"], ENV),
    );
    const cataloged = record("catalog", await cli(["--mode", "catalog", "--config", config], ENV));
    assert.equal(cataloged.code, 0, cataloged.stderr);
    const queried = record(
      "query",
      await cli([
        "--mode",
        "query",
        "--config",
        config,
        "--sql",
        "SELECT * FROM ticker",
        "--format",
        "json",
      ], ENV),
    );
    assert.equal(queried.code, 0, queried.stderr);
    assert.ok(JSON.parse(queried.stdout).length > 0, "the lake has rows to search");

    // consume into S3 (moto), with the sentinel AWS secret key and session token.
    const bucket = await freshBucket();
    const s3Config = join(dir, "s3.toml");
    const s3Toml = (bucketName: string, endpoint: string, groupSuffix: string) =>
      Deno.readTextFileSync(config).replace(
        /\[store\]\npath = "[^"]*"\n/,
        `[store]\ntype = "s3"\nbucket = "${bucketName}"\nprefix = "lake"\nendpoint = "${endpoint}"\nforce_path_style = true\nmax_attempts = 2\nconnect_timeout_ms = 1000\n`,
      ).replace(`group_id = "${group}"`, `group_id = "${group}-${groupSuffix}"`);
    await Deno.writeTextFile(s3Config, s3Toml(bucket, testS3Endpoint(), "s3"));
    const s3Consumed = record(
      "consume (s3)",
      await cli(["--mode", "consume", "--config", s3Config, "--until-idle"], ENV),
    );
    assert.equal(s3Consumed.code, 0, s3Consumed.stderr);
    const store = testS3Store(bucket, "lake");
    const objects = await store.list("ticker");
    assert.ok(objects.length > 0, "the bucket has files to search");
    for (const key of objects) {
      places.set(`s3 object ${key}`, new TextDecoder("latin1").decode(await store.read(key)));
    }

    // ---- failing runs ----
    const failing = async (name: string, args: string[], path: string) => {
      const run = record(name, await cli(["--config", path, ...args], ENV));
      assert.ok([3, 4].includes(run.code), `${name}: exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /^error: /m, `${name} says why`);
    };
    await failing("produce, SASL against a broker without SASL", [
      "--mode",
      "produce",
      "--max-records",
      "5",
    ], saslEnvConfig);
    await failing("consume, SASL (file) against a broker without SASL", [
      "--mode",
      "consume",
      "--until-idle",
    ], saslFileConfig);
    // The sentinel as a wrong password, over TLS to the real SCRAM listener of the secured broker.
    const secure = secureTestBroker();
    const wrongPassword = join(dir, "wrong-password.toml");
    await Deno.writeTextFile(
      wrongPassword,
      (await Deno.readTextFile(saslEnvConfig)).replace(testBrokers(), secure.saslSsl) +
        `\n[bus.tls]\nca_file = "${secure.pki.caCert}"\n`,
    );
    for (const mode of [["produce", "--max-records", "5"], ["consume", "--until-idle"]]) {
      await failing(`${mode[0]}, wrong SASL password (SCRAM over TLS)`, [
        "--mode",
        ...mode,
      ], wrongPassword);
    }
    const unreachable = join(dir, "unreachable.toml");
    await Deno.writeTextFile(
      unreachable,
      (await Deno.readTextFile(saslEnvConfig)).replace(testBrokers(), `127.0.0.1:${freePort()}`)
        .replace(
          "session_timeout_ms = 6000",
          "session_timeout_ms = 6000\nconnect_timeout_ms = 1000",
        ),
    );
    await failing(
      "produce, unreachable broker",
      ["--mode", "produce", "--max-records", "5"],
      unreachable,
    );
    const wrongBucket = join(dir, "wrong-bucket.toml");
    await Deno.writeTextFile(
      wrongBucket,
      s3Toml(`missing-${crypto.randomUUID().slice(0, 8)}`, testS3Endpoint(), "wrong-bucket"),
    );
    await failing(
      "consume, bucket does not exist",
      ["--mode", "consume", "--until-idle"],
      wrongBucket,
    );
    const s3Down = join(dir, "s3-down.toml");
    await Deno.writeTextFile(s3Down, s3Toml(bucket, `http://127.0.0.1:${freePort()}`, "s3-down"));
    await failing("consume, S3 endpoint down", ["--mode", "consume", "--until-idle"], s3Down);

    // ---- search ----
    for (const [path, text] of await filesUnder(lake)) places.set(`lake file ${path}`, text);
    assert.ok(
      [...places.keys()].some((k) => k.includes("_catalog")),
      "catalog files were searched",
    );
    for (const t of [topic, `${topic}.rejects`, `${topic}.status`]) {
      places.set(
        `topic ${t}`,
        (await kcatDump(testBrokers(), t)).map((m) =>
          `${m.key}\t${m.payload}\t${JSON.stringify(m.headers)}`
        ).join("\n"),
      );
    }
    assert.match(produced.stderr, /^debug /m, "debug logs were searched");
    assert.match(places.get(`topic ${topic}.rejects`) ?? "", /invalid api key \[redacted\]/);
    const leaks = [...places].flatMap(([place, text]) => hits(text).map((s) => `${s} in ${place}`));
    assert.deepEqual(leaks, [], `${places.size} places searched`);

    // ---- negative control: the same capture and search find a sentinel that is printed ----
    const control = await cli(["--print-config", "--config", config], {
      ...ENV,
      CRYPTOPIPE_LOG__FORMAT: SENTINELS.coingecko,
    });
    assert.equal(control.code, 2);
    assert.deepEqual(hits(control.stderr), [SENTINELS.coingecko], control.stderr);
  } finally {
    await server.close();
  }
});
