/**
 * Fuzzing the config parser (fast-check, fixed seed, bounded runs): random text, mutated valid
 * configs, random values at every known key, and random CRYPTOPIPE_* overrides. Whatever the
 * input, parseConfig returns a config or throws a ConfigError (exit 2, one line naming the
 * file), never a TypeError, never a hang.
 */
import assert from "node:assert/strict";
import { stringify } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { applyEdits, fc, fuzzParameters, textEdit, typedOnly } from "../fuzz_testing.ts";
import { type ConfigEnvironment, parseConfig } from "./mod.ts";

/** Secrets resolve (any CRYPTOPIPE_* variable is set), files do not exist. */
function environment(overrides: Iterable<[string, string]> = []): ConfigEnvironment {
  return {
    env: (name) => name.startsWith("CRYPTOPIPE_") ? "fuzz-secret" : undefined,
    envEntries: () => overrides,
    readTextFile: (path) => {
      throw new Deno.errors.NotFound(path);
    },
  };
}

const VALID_CONFIGS = [
  "",
  await Deno.readTextFile(new URL("../../cryptopipe.example.toml", import.meta.url)),
  `
[log]
level = "debug"
format = "json"

[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD"]

[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD"]
api_key_env = "CRYPTOPIPE_CG_KEY"
ids = { BTC = "bitcoin" }

[sources.stream]
type = "kraken_ws"
symbols = ["BTC-USD"]
url = "ws://127.0.0.1:9/kraken/v2"

[bus]
brokers = ["127.0.0.1:9092", "10.0.0.5:9093"]
topic = "crypto.ticker.v1"

[bus.sasl]
mechanism = "scram-sha-512"
username = "pipe"
password_env = "CRYPTOPIPE_KAFKA_PASSWORD"

[batch]
max_records = 10
max_age_secs = 0.5

[store]
type = "s3"
bucket = "my-lake"
prefix = "lake/v1"
endpoint = "http://127.0.0.1:5000"

[catalog]
type = "glue"
partitions = "register"

[query]
engine = "athena"
output_location = "s3://my-results/athena/"
`,
];

function parse(text: string, overrides: Iterable<[string, string]> = []): void {
  const result = typedOnly(() => parseConfig(text, "fuzz.toml", environment(overrides)), text);
  if (result instanceof Error) {
    assert.ok(result instanceof ConfigError, `${result.name}: ${result.message}`);
    assert.ok(!result.message.includes("\n"), `one line: ${result.message}`);
  }
}

Deno.test("config fuzz: valid configs parse (the control for the mutations below)", () => {
  for (const text of VALID_CONFIGS) {
    parseConfig(text, "fuzz.toml", environment());
  }
});

Deno.test("config fuzz: random text throws only ConfigError", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: "binary", maxLength: 400 })),
      (text) => parse(text),
    ),
    fuzzParameters(1500),
  );
});

Deno.test("config fuzz: mutated valid configs throw only ConfigError", () => {
  let rejected = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...VALID_CONFIGS),
      fc.array(textEdit, { minLength: 1, maxLength: 6 }),
      (text, edits) => {
        const mutated = applyEdits(text, edits);
        try {
          parseConfig(mutated, "fuzz.toml", environment());
        } catch {
          rejected++;
        }
        parse(mutated);
      },
    ),
    fuzzParameters(1500),
  );
  assert.ok(rejected > 100, `the mutations did reach the error paths (${rejected} rejected)`);
});

/** Every key path of the valid configs, for structured fuzzing. */
const KEYS: ReadonlyArray<readonly string[]> = [
  ["log", "level"],
  ["log", "format"],
  ["sources", "sim", "type"],
  ["sources", "sim", "symbols"],
  ["sources", "sim", "rate_per_second"],
  ["sources", "gecko", "ids"],
  ["sources", "gecko", "api_key_env"],
  ["bus", "brokers"],
  ["bus", "topic"],
  ["bus", "sasl"],
  ["bus", "sasl", "password_file"],
  ["bus", "retry", "retries"],
  ["batch", "max_records"],
  ["encode", "gzip"],
  ["store", "type"],
  ["store", "prefix"],
  ["store", "table"],
  ["catalog", "database"],
  ["query", "output_location"],
  ["__proto__"],
  ["constructor", "prototype"],
];

Deno.test("config fuzz: random values at known keys throw only ConfigError", () => {
  const base = { sources: { sim: { type: "simulated" }, gecko: { type: "coingecko" } } };
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 3 })), { maxLength: 6 }),
      (assignments) => {
        const raw: Record<string, unknown> = structuredClone(base);
        for (const [path, value] of assignments) {
          let node = raw;
          for (const part of path.slice(0, -1)) {
            if (typeof node[part] !== "object" || node[part] === null) {
              Object.defineProperty(node, part, { value: {}, enumerable: true, writable: true });
            }
            node = node[part] as Record<string, unknown>;
          }
          Object.defineProperty(node, path[path.length - 1], {
            value,
            enumerable: true,
            writable: true,
          });
        }
        let text: string;
        try {
          text = stringify(raw);
        } catch {
          return; // not expressible in TOML (e.g. a null): nothing to parse
        }
        parse(text);
      },
    ),
    fuzzParameters(1500),
  );
});

Deno.test("config fuzz: random CRYPTOPIPE_* overrides throw only ConfigError", () => {
  const name = fc.oneof(
    fc.constantFrom(...KEYS.map((k) => `CRYPTOPIPE_${k.join("__").toUpperCase()}`)),
    fc.string({ maxLength: 30 }).map((s) => `CRYPTOPIPE_${s}`),
    fc.string({ maxLength: 20 }).map((s) => `CRYPTOPIPE_${s}__${s}`),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...VALID_CONFIGS),
      fc.array(fc.tuple(name, fc.string({ maxLength: 40 })), { maxLength: 4 }),
      (text, overrides) => parse(text, overrides),
    ),
    fuzzParameters(1000),
  );
});
