/**
 * The CLI as users meet it: every kind of bad input gives one clear line (no stack trace)
 * and the documented exit code; Kafka unreachable gives exit 3 after bounded retries.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, workspace } from "./helpers.ts";
import { freePort } from "../scripts/local_kafka.ts";
import { EXIT_CODE_TABLE } from "../src/errors.ts";

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /\s+at\s+\S+:\d+:\d+/, "no stack trace");
}

Deno.test("cli: --help teaches the modes, the env rule and the exit codes", async () => {
  const result = await cli(["--help"]);
  assert.equal(result.code, 0);
  for (
    const text of [
      "--mode",
      "produce",
      "consume",
      "catalog",
      "query",
      "CRYPTOPIPE_<SECTION>__<KEY>",
      "Exit codes",
    ]
  ) {
    assert.ok(result.stdout.includes(text), `help mentions ${text}`);
  }
  assert.match(result.stdout, /^\s+4\s+authentication/m);
});

Deno.test("cli: --version", async () => {
  const result = await cli(["--version"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^cryptopipe \d+\.\d+\.\d+ \(commit /);
});

const badInputs: Array<
  { name: string; toml?: string; args: string[]; env?: Record<string, string>; error: RegExp }
> = [
  {
    name: "unknown mode",
    args: ["--mode", "produc"],
    error: /Unknown mode "produc".*did you mean produce\?/,
  },
  {
    name: "unknown flag",
    args: ["--mode", "produce", "--max-recrods", "5"],
    error: /Unknown flag --max-recrods; did you mean --max-records\?/,
  },
  {
    name: "flag of another mode",
    args: ["--mode", "consume", "--sql", "SELECT 1"],
    toml: "",
    error: /--sql applies to --mode query only/,
  },
  {
    name: "bad flag value",
    args: ["--mode", "produce", "--max-records", "many"],
    toml: "",
    error: /Invalid --max-records "many"/,
  },
  {
    name: "missing config file",
    args: ["--mode", "produce", "--config", "/nonexistent/cryptopipe.toml"],
    error: /\/nonexistent\/cryptopipe\.toml: file not found/,
  },
  {
    name: "invalid TOML",
    toml: "[bus\nbrokers = 1",
    args: ["--mode", "produce"],
    error: /invalid TOML at line 1/,
  },
  {
    name: "unknown key",
    toml: '[bus]\nbrokerz = ["a:1"]',
    args: ["--mode", "produce"],
    error: /bus\.brokerz: unknown key; did you mean "brokers"\?/,
  },
  {
    name: "unknown section",
    toml: '[bsu]\nbrokers = ["a:1"]',
    args: ["--mode", "produce"],
    error: /bsu: unknown key; did you mean "bus"\?/,
  },
  {
    name: "wrong type",
    toml: '[batch]\nmax_records = "lots"',
    args: ["--mode", "consume"],
    error: /batch\.max_records: expected number, received string \(got "lots"\)/,
  },
  {
    name: "out of range",
    toml: "[bus]\nsession_timeout_ms = 100",
    args: ["--mode", "consume"],
    error: /bus\.session_timeout_ms: .*>=1000.*\(got 100\)/,
  },
  {
    name: "bad enum",
    toml: '[encode]\nformat = "csv"',
    args: ["--mode", "consume"],
    error: /encode\.format: .*"parquet".*"jsonl"/,
  },
  {
    name: "literal secret",
    toml: '[bus.sasl]\nmechanism = "plain"\nusername = "u"\npassword = "hunter2"',
    args: ["--mode", "produce"],
    error: /bus\.sasl\.password: a literal secret is not allowed/,
  },
  {
    name: "secret env not set",
    toml:
      '[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "u"\npassword_env = "CRYPTOPIPE_NOPE"',
    args: ["--mode", "produce"],
    error: /bus\.sasl\.password_env: environment variable CRYPTOPIPE_NOPE is not set/,
  },
  {
    name: "a table named like its dedup view",
    toml: '[store]\ntable = "ticker_dedup"',
    args: ["--mode", "consume"],
    error: /store\.table: must not end in _dedup/,
  },
  {
    name: "AWS endpoint from the environment (https is checked only in the config)",
    args: ["--mode", "consume"],
    env: { AWS_ENDPOINT_URL_S3: "http://s3.eu-west-1.amazonaws.com" },
    error: /AWS_ENDPOINT_URL_S3 is set: cryptopipe takes AWS endpoints only from the config/,
  },
  {
    name: "bad env override",
    toml: "",
    args: ["--mode", "produce"],
    env: { CRYPTOPIPE_BUS__BROKRS: "a:1" },
    error: /environment CRYPTOPIPE_BUS__BROKRS.*did you mean CRYPTOPIPE_BUS__BROKERS\?/,
  },
  {
    name: "bad env value",
    toml: "",
    args: ["--mode", "produce"],
    env: { CRYPTOPIPE_PRODUCE__BATCH_MAX_RECORDS: "0" },
    error: /environment CRYPTOPIPE_PRODUCE__BATCH_MAX_RECORDS: produce\.batch_max_records: .*>=1/,
  },
  {
    name: "unknown named query",
    toml: "",
    args: ["--mode", "query", "--named", "nope"],
    error: /Unknown named query "nope"/,
  },
  {
    name: "named query parameter that is not a symbol",
    toml: "",
    args: ["--mode", "query", "--named", "latest", "--param", "symbol=' OR '1'='1"],
    error: /Invalid --param symbol="' OR '1'='1": expected a symbol such as BTC-USD/,
  },
  {
    name: "both --sql and --file",
    toml: "",
    args: ["--mode", "query", "--sql", "SELECT 1", "--file", "q.sql"],
    error: /Give exactly one of --sql "\.\.\.", --file QUERY\.sql or --named NAME/,
  },
  {
    name: "missing --file",
    toml: "",
    args: ["--mode", "query", "--file", "/nonexistent/q.sql"],
    error: /Cannot read --file \/nonexistent\/q\.sql/,
  },
  {
    name: "chart file of an unknown kind",
    toml: "",
    args: ["--mode", "query", "--named", "latest", "--chart", "prices.png"],
    error: /Invalid --chart "prices\.png": the file name must end in \.svg or \.html/,
  },
  {
    name: "bad --format",
    toml: "",
    args: ["--mode", "query", "--named", "latest", "--format", "xml"],
    error: /Invalid --format "xml"; use table, csv, json or chart/,
  },
  {
    name: "--dry-run outside catalog and consume",
    toml: "",
    args: ["--mode", "produce", "--dry-run"],
    error: /--dry-run applies to --mode consume or catalog only/,
  },
];

for (const input of badInputs) {
  Deno.test(`cli: ${input.name} → exit 2 with one clear line`, async () => {
    const args = [...input.args];
    if (input.toml !== undefined) {
      const { config } = await workspace(input.toml);
      args.push("--config", config);
    }
    const result = await cli(args, input.env);
    assert.equal(result.code, 2, result.stderr);
    assertOneLineError(result.stderr, input.error);
  });
}

Deno.test("cli: a secret's value never appears in --print-config", async () => {
  const { config, dir } = await workspace(
    `[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "pipe"\npassword_file = "{dir}/pw"\n`,
  );
  await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replace("{dir}", dir));
  await Deno.writeTextFile(join(dir, "pw"), "sentinel-8d1f\n");
  const result = await cli(["--print-config", "--config", config]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!result.stdout.includes("sentinel-8d1f") && !result.stderr.includes("sentinel-8d1f"));
  assert.match(result.stdout, /\[redacted\]/);
});

Deno.test("cli: Kafka unreachable → exit 3 after bounded retries, one line naming the brokers", async () => {
  const port = freePort();
  const { config } = await workspace(
    `[bus]\nbrokers = ["127.0.0.1:${port}"]\nconnect_timeout_ms = 1000\n[bus.retry]\nretries = 1\ninitial_ms = 100\n`,
  );
  for (const mode of ["produce", "consume"]) {
    const started = Date.now();
    const result = await cli(
      ["--mode", mode, "--config", config, "--max-records", "1"].slice(
        0,
        mode === "produce" ? 6 : 4,
      ),
    );
    assert.equal(result.code, 3, result.stderr);
    assertOneLineError(result.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.ok(Date.now() - started < 30_000, "bounded");
  }
});

Deno.test("cli: with --log-level debug a failure shows its stack", async () => {
  const result = await cli([
    "--mode",
    "produce",
    "--config",
    "/nonexistent.toml",
    "--log-level",
    "debug",
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /\s+at\s+/);
});

Deno.test("cli: the config defaults to ./cryptopipe.toml, or $CRYPTOPIPE_CONFIG", async () => {
  const { dir } = await workspace("");
  await Deno.writeTextFile(join(dir, "cryptopipe.toml"), '[bus]\ntopik = "x"\n');
  const fromCwd = await cli(["--mode", "produce"], {}, dir);
  assert.equal(fromCwd.code, 2);
  assertOneLineError(
    fromCwd.stderr,
    /Invalid config \.\/cryptopipe\.toml: bus\.topik: unknown key/,
  );
  const other = join(dir, "other.toml");
  await Deno.writeTextFile(other, '[store]\npth = "x"\n');
  const fromEnv = await cli(["--mode", "produce"], { CRYPTOPIPE_CONFIG: other }, dir);
  assertOneLineError(
    fromEnv.stderr,
    new RegExp(`Invalid config ${other}: store\\.pth: unknown key; did you mean "path"`),
  );
  const flagWins = await cli(["--mode", "produce", "--config", join(dir, "cryptopipe.toml")], {
    CRYPTOPIPE_CONFIG: other,
  }, dir);
  assert.match(flagWins.stderr, /bus\.topik/);
});

Deno.test("cli: the README's exit-code table is the one --help prints", async () => {
  const readme = await Deno.readTextFile(join(import.meta.dirname!, "..", "README.md"));
  for (const line of EXIT_CODE_TABLE.split("\n")) {
    const [, code, meaning] = /^\s*(\d)\s+(.*)$/.exec(line)!;
    // deno fmt pads table cells, so compare with the padding squeezed out.
    const rows = readme.split("\n").map((l) => l.replace(/\s*\|\s*/g, "|").trim());
    assert.ok(
      rows.includes(`|${code}|${meaning}|`),
      `README row for exit code ${code}: ${meaning}`,
    );
  }
});

Deno.test("cli: an S3 store needs a bucket, and http endpoints only on loopback", async () => {
  for (
    const [toml, error] of [
      ['[store]\ntype = "s3"', /store\.bucket: required when store\.type = "s3"/],
      [
        '[store]\ntype = "s3"\nbucket = "my-lake"\nendpoint = "http://s3.example.com"',
        /store\.endpoint: must be https:\/\//,
      ],
    ] as const
  ) {
    const { config } = await workspace(toml);
    const result = await cli(["--mode", "consume", "--config", config]);
    assert.equal(result.code, 2, result.stderr);
    assertOneLineError(result.stderr, error);
  }
});

Deno.test("cli: catalog --dry-run prints the plan and changes nothing; a breaking difference exits 3 in a dry run as in a real one", async () => {
  const { config, lake } = await workspace('[store]\npath = "{lake}"');
  const manifest = join(lake, "_catalog", "cryptopipe", "ticker.json");
  const planned = await cli(["--mode", "catalog", "--config", config, "--dry-run"]);
  assert.equal(planned.code, 0, planned.stderr);
  assert.match(planned.stdout, /^cryptopipe\.ticker: would be created\n {2}\+ table /);
  assert.match(planned.stdout, /\+ column price float64/);
  await assert.rejects(() => Deno.stat(manifest), Deno.errors.NotFound);

  assert.equal((await cli(["--mode", "catalog", "--config", config])).code, 0);
  const table = JSON.parse(await Deno.readTextFile(manifest));
  table.columns.find((c: { name: string }) => c.name === "price").type = "string";
  await Deno.writeTextFile(manifest, JSON.stringify(table));
  for (const extra of [["--dry-run"], []]) {
    const result = await cli(["--mode", "catalog", "--config", config, ...extra]);
    assert.equal(result.code, 3, result.stderr);
    assertOneLineError(
      result.stderr,
      extra.length > 0
        ? /--dry-run: cryptopipe\.ticker would be refused \(the problems are listed above\)/
        : /price string in the local catalog, price float64 in the code/,
    );
  }
  const dry = await cli(["--mode", "catalog", "--config", config, "--dry-run"]);
  assert.match(
    dry.stdout,
    /cryptopipe\.ticker: would be REFUSED .*\n {2}~ column \d+: price string → price float64/,
  );
  const kept = JSON.parse(await Deno.readTextFile(manifest));
  assert.equal(kept.columns.find((c: { name: string }) => c.name === "price").type, "string");
});
