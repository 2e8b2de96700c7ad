import assert from "node:assert/strict";
import { type ConfigEnvironment, parseConfig, printableConfig } from "./mod.ts";

const SENTINEL = "SENTINEL-print-7f3a";
const environment: ConfigEnvironment = {
  env: (name) => (name === "CRYPTOPIPE_PW" ? SENTINEL : undefined),
  envEntries: () => [["CRYPTOPIPE_BATCH__MAX_RECORDS", "77"]],
  readTextFile: () => SENTINEL + "-file\n",
};
const TOML = `
[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD"]
api_key_file = "/run/keys/coingecko"

[bus.sasl]
mechanism = "scram-sha-512"
username = "pipe"
password_env = "CRYPTOPIPE_PW"
`;

Deno.test("print-config: TOML with defaults and overrides, secrets listed by origin, loads again to the same config", () => {
  const config = parseConfig(TOML, "c.toml", environment);
  const text = printableConfig(config, "toml");
  assert.ok(!text.includes(SENTINEL), text);
  assert.match(text, /^# secret bus\.sasl\.password = \[redacted\] \(env:CRYPTOPIPE_PW\)$/m);
  assert.match(
    text,
    /^# secret sources\.gecko\.api_key = \[redacted\] \(file:\/run\/keys\/coingecko\)$/m,
  );
  assert.match(text, /^max_records = 77$/m, "the environment override is applied");
  assert.match(text, /^group_id = "cryptopipe-lake"$/m, "defaults are filled");
  const again = parseConfig(text, "printed.toml", { ...environment, envEntries: () => [] });
  const { file: _a, secrets: _s, ...original } = config;
  const { file: _b, secrets: _t, ...reloaded } = again;
  assert.deepEqual(reloaded, original);
  assert.equal(again.secrets.busSaslPassword?.reveal(), SENTINEL);
});

Deno.test("print-config: JSON with a secrets object of markers and origins", () => {
  const config = parseConfig(TOML, "c.toml", environment);
  const text = printableConfig(config, "json");
  assert.ok(!text.includes(SENTINEL), text);
  const json = JSON.parse(text);
  assert.deepEqual(json.secrets, {
    "bus.sasl.password": "[redacted] (env:CRYPTOPIPE_PW)",
    "sources.gecko.api_key": "[redacted] (file:/run/keys/coingecko)",
  });
  assert.equal(json.batch.max_records, 77);
  assert.equal(json.file, undefined);
});
