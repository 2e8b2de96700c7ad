import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { type ConfigEnvironment, parseConfig } from "./mod.ts";
import { configSchema } from "./schema.ts";
import { parse as parseToml } from "smol-toml";
import { Secret } from "./secrets.ts";

function env(
  vars: Record<string, string> = {},
  files: Record<string, string> = {},
): ConfigEnvironment {
  return {
    env: (name) => vars[name],
    envEntries: () => Object.entries(vars),
    readTextFile: (path) => {
      if (path in files) return files[path];
      throw new Deno.errors.NotFound(path);
    },
  };
}

function configError(
  text: string,
  vars: Record<string, string> = {},
  files: Record<string, string> = {},
): ConfigError {
  try {
    parseConfig(text, "test.toml", env(vars, files));
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("config: an empty file gives every documented default", () => {
  const config = parseConfig("", "test.toml", env());
  assert.deepEqual(config.bus.brokers, ["127.0.0.1:9092"]);
  assert.equal(config.bus.topic, "crypto.ticker.v1");
  assert.equal(config.encode.format, "parquet");
  assert.equal(config.store.path, "./lake");
  assert.equal(config.bus.retry.retries, 5);
  assert.equal(config.sources.sim.type, "simulated");
});

Deno.test("config: unknown keys are rejected with a did-you-mean hint, at any depth", () => {
  assert.match(
    configError('[bus]\ntopik = "x"').message,
    /test\.toml: bus\.topik: unknown key; did you mean "topic"\?/,
  );
  assert.match(
    configError("[bus.retry]\nretires = 1").message,
    /bus\.retry\.retires: unknown key; did you mean "retries"\?/,
  );
  assert.match(
    configError('[sources.a]\ntype = "simulated"\nrate = 1').message,
    /sources\.a\.rate: unknown key/,
  );
  assert.match(
    configError('[sources.a]\ntype = "replay"\npth = "x"').message,
    /sources\.a\.pth: unknown key; did you mean "path"\?/,
  );
  assert.match(configError("nonsense = 1").message, /nonsense: unknown key$/);
  assert.match(
    configError("[batch]\nflush_interval_ms = 100").message,
    /batch\.flush_interval_ms: unknown key; it was renamed to "max_age_secs" \(seconds\)/,
  );
});

Deno.test("config: wrong types and out-of-range values name the key and the value", () => {
  assert.match(
    configError('[bus]\nbrokers = "a:1"').message,
    /bus\.brokers: expected array, received string \(got "a:1"\)/,
  );
  assert.match(
    configError("[batch]\nmax_records = 0").message,
    /batch\.max_records: .*>=1 \(got 0\)/,
  );
  assert.match(configError('[bus]\ntopic = "bad/topic"').message, /bus\.topic: must be 1-200 of/);
  assert.match(configError('[sources.x]\ntype = "replay"').message, /sources\.x\.path: required/);
});

Deno.test("config: a literal secret anywhere is an error; the named sources are read", () => {
  assert.match(
    configError('[bus.sasl]\npassword = "x"').message,
    /bus\.sasl\.password: a literal secret is not allowed/,
  );
  assert.match(
    configError('[anything]\napi_key = "x"').message,
    /anything\.api_key: a literal secret/,
  );
  const sasl = '[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "u"\n';
  const fromEnv = parseConfig(
    sasl + 'password_env = "CRYPTOPIPE_PW"',
    "t",
    env({ CRYPTOPIPE_PW: "s3cret" }),
  );
  assert.equal(fromEnv.secrets.busSaslPassword?.reveal(), "s3cret");
  const fromFile = parseConfig(
    sasl + 'password_file = "/run/pw"',
    "t",
    env({}, { "/run/pw": "filepw\n" }),
  );
  assert.equal(fromFile.secrets.busSaslPassword?.reveal(), "filepw");
  const fromCredential = parseConfig(
    sasl + 'password_credential = "kafka"',
    "t",
    env({ CREDENTIALS_DIRECTORY: "/run/credentials/x" }, { "/run/credentials/x/kafka": "credpw" }),
  );
  assert.equal(fromCredential.secrets.busSaslPassword?.reveal(), "credpw");
  assert.match(
    configError(sasl + 'password_env = "PW"').message,
    /must name a CRYPTOPIPE_\* environment variable/,
  );
  assert.match(
    configError(sasl).message,
    /set exactly one of password_env, password_file or password_credential/,
  );
  assert.match(
    configError(sasl + 'password_credential = "k"').message,
    /CREDENTIALS_DIRECTORY is not set/,
  );
});

Deno.test("config: secrets are redacted when printed, logged or serialized", () => {
  const secret = new Secret("hunter2");
  assert.equal(String(secret), "[redacted]");
  assert.equal(JSON.stringify({ secret }), '{"secret":"[redacted]"}');
  assert.ok(!Deno.inspect({ secret }).includes("hunter2"));
  assert.ok(!`${secret}`.includes("hunter2"));
});

Deno.test("config: CRYPTOPIPE_<SECTION>__<KEY> overrides, typed by the schema", () => {
  const config = parseConfig(
    '[bus]\nbrokers = ["a:1"]\n',
    "t",
    env({
      CRYPTOPIPE_BUS__BROKERS: "b:2, c:3",
      CRYPTOPIPE_BUS__RETRY__RETRIES: "2",
      CRYPTOPIPE_ENCODE__FORMAT: "jsonl",
      CRYPTOPIPE_CONFIG: "ignored.toml",
      CRYPTOPIPE_SOME_SECRET: "not an override (no __)",
    }),
  );
  assert.deepEqual(config.bus.brokers, ["b:2", "c:3"]);
  assert.equal(config.bus.retry.retries, 2);
  assert.equal(config.encode.format, "jsonl");
  const bad = configError("", { CRYPTOPIPE_BATCH__MAX_RECORDS: "ten" });
  assert.equal(bad.file, "environment CRYPTOPIPE_BATCH__MAX_RECORDS");
  assert.match(
    configError("", { CRYPTOPIPE_BSU__BROKERS: "x:1" }).message,
    /did you mean CRYPTOPIPE_BUS__BROKERS\?/,
  );
  assert.match(configError("", { CRYPTOPIPE_BUS__SASL__PASSWORD: "x" }).message, /literal secret/);
});

/** Every key of the schema, as dotted paths (records by a placeholder name). */
function schemaKeys(): string[] {
  const keys: string[] = [];
  // deno-lint-ignore no-explicit-any
  const visit = (node: any, path: string[]) => {
    let def = node._zod.def;
    while (["default", "prefault", "optional"].includes(def.type)) def = def.innerType._zod.def;
    if (def.type === "object") {
      for (const [key, child] of Object.entries(def.shape)) {
        keys.push([...path, key].join("."));
        visit(child, [...path, key]);
      }
    } else if (def.type === "record") visit(def.valueType, [...path, "*"]);
    else if (def.type === "union") { for (const option of def.options) visit(option, path); }
  };
  visit(configSchema, []);
  return [...new Set(keys)];
}

Deno.test("config: cryptopipe.example.toml documents every key, and its values are the defaults", async () => {
  const text = await Deno.readTextFile(new URL("../../cryptopipe.example.toml", import.meta.url));
  // The values the example shows uncommented are exactly the built-in defaults.
  const { file: _a, ...example } = parseConfig(text, "cryptopipe.example.toml", env());
  const { file: _b, ...defaults } = parseConfig("", "defaults", env());
  assert.deepEqual(example, defaults);
  // Uncomment the documented-but-optional keys and tables, then collect every dotted key.
  const uncommented = text.split("\n").map((line) =>
    line.replace(/^# (\[[a-z_.]+\]|[a-z_]+ = )/, "$1")
  ).join("\n");
  const documented = new Set<string>();
  const collect = (node: unknown, path: string[]) => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const next = path.length === 1 && path[0] === "sources" ? [...path, "*"] : [...path, key];
      if (!(path.length === 1 && path[0] === "sources")) documented.add(next.join("."));
      collect(value, next);
    }
  };
  collect(parseToml(uncommented), []);
  assert.deepEqual(schemaKeys().filter((key) => !documented.has(key)), []);
});

Deno.test("config: a secret typed into a *_env key is not echoed in the error", () => {
  const message =
    configError(`[bus.sasl]\nmechanism = "plain"\nusername = "u"\npassword_env = "s3cr3t-Hunter2!"`)
      .message;
  assert.match(message, /bus\.sasl\.password_env: must name a CRYPTOPIPE_\* environment variable/);
  assert.ok(!message.includes("s3cr3t-Hunter2!"), message);
});

Deno.test("config: an api_key_* on a source type that takes no API key is an error naming the key; coingecko and cryptocompare take one", () => {
  const cases: Array<[string, string, string]> = [
    ["binance", 'symbols = ["BTC-USDT"]', "api_key_env"],
    ["coinbase", 'symbols = ["BTC-USD"]', "api_key_file"],
    ["kraken", 'symbols = ["BTC-USD"]', "api_key_credential"],
    ["binance_ws", 'symbols = ["BTC-USDT"]', "api_key_env"],
    ["coinbase_ws", 'symbols = ["BTC-USD"]', "api_key_env"],
    ["kraken_ws", 'symbols = ["BTC-USD"]', "api_key_env"],
    ["simulated", "", "api_key_env"],
    ["replay", 'path = "x.csv"', "api_key_env"],
  ];
  for (const [type, keys, key] of cases) {
    const value = key === "api_key_env" ? "CRYPTOPIPE_K" : key === "api_key_file" ? "/k" : "k";
    const error = configError(
      `[sources.b]\ntype = "${type}"\n${keys}\n${key} = "${value}"`,
      { CRYPTOPIPE_K: "the-key" },
      { "/k": "the-key" },
    );
    assert.equal(error.exitCode, 2);
    assert.equal(
      error.message,
      `Invalid config test.toml: sources.b.${key}: ${type} takes no API key (only coingecko and cryptocompare do)`,
    );
  }
  // The same through an environment override, named by the variable.
  const fromEnv = configError('[sources.b]\ntype = "binance"\nsymbols = ["BTC-USDT"]', {
    CRYPTOPIPE_SOURCES__B__API_KEY_ENV: "CRYPTOPIPE_K",
  });
  assert.equal(fromEnv.file, "environment CRYPTOPIPE_SOURCES__B__API_KEY_ENV");
  assert.match(fromEnv.message, /sources\.b\.api_key_env: binance takes no API key/);
  // Other unknown keys keep their did-you-mean hint.
  assert.match(
    configError('[sources.b]\ntype = "binance"\nsymbols = ["BTC-USDT"]\napi_kee_env = "x"').message,
    /sources\.b\.api_kee_env: unknown key/,
  );
  for (const type of ["coingecko", "cryptocompare"]) {
    const config = parseConfig(
      `[sources.b]\ntype = "${type}"\nsymbols = ["BTC-USD"]\napi_key_env = "CRYPTOPIPE_K"`,
      "t",
      env({ CRYPTOPIPE_K: "the-key" }),
    );
    assert.equal(config.secrets.sourceApiKeys.b.reveal(), "the-key");
  }
});
