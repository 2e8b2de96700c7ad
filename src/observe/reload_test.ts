import assert from "node:assert/strict";
import { type ConfigEnvironment, type LoadedConfig, parseConfig } from "../config/mod.ts";
import { createLogger } from "../log.ts";
import { changedKeys, reloadConfig } from "./reload.ts";

const environment: ConfigEnvironment = {
  env: () => undefined,
  envEntries: () => [],
  readTextFile: () => {
    throw new Deno.errors.NotFound("none");
  },
};
const parse = (text: string) => parseConfig(text, "test.toml", environment);

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    "info",
    "json",
    { component: "reload" },
    (l) => lines.push(JSON.parse(l)),
  );
  return { logger, lines };
}

Deno.test("changedKeys() lists dotted keys whose values differ, lists compared whole", () => {
  const a = parse(`[log]\nlevel = "info"\n[bus]\nbrokers = ["a:1"]`);
  const b = parse(
    `[log]\nlevel = "debug"\n[bus]\nbrokers = ["a:1", "b:2"]\n[metrics]\nlisten = "127.0.0.1:9"`,
  );
  assert.deepEqual(changedKeys(a, b), ["bus.brokers", "log.level", "metrics.listen"]);
  assert.deepEqual(changedKeys(a, a), []);
});

Deno.test("reloadConfig() applies log.level and the stale limits, names the keys that need a restart", () => {
  const { logger, lines } = capture();
  const running = parse(`[metrics]\nsource_stale_secs = 60`);
  let applied: LoadedConfig | undefined;
  const next = reloadConfig(running, {
    initial: running,
    logger,
    load: () =>
      parse(`[log]\nlevel = "warn"\n[metrics]\nsource_stale_secs = 5\n[bus]\ntopic = "other"`),
    apply: (c) => (applied = c),
  });
  assert.equal(applied?.log.level, "warn");
  assert.equal(applied?.metrics.source_stale_secs, 5);
  assert.equal(next.bus.topic, running.bus.topic, "a restart key keeps its running value");
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "warn");
  assert.equal(lines[0].applied, "log.level,metrics.source_stale_secs");
  assert.equal(lines[0].restart_needed, "bus.topic");
});

Deno.test("reloadConfig() keeps the running config when the new one does not load", () => {
  const { logger, lines } = capture();
  const running = parse("");
  let calls = 0;
  const next = reloadConfig(running, {
    initial: running,
    logger,
    load: () => parse(`[batch]\nmax_records = "lots"`),
    apply: () => calls++,
  });
  assert.equal(next, running);
  assert.equal(calls, 0);
  assert.equal(lines[0].level, "error");
  assert.match(String(lines[0].error), /batch\.max_records/);
});

Deno.test("reloadConfig() leaves log.level alone when --log-level pinned it", () => {
  const { logger, lines } = capture();
  const running = parse("");
  let level: string | undefined;
  reloadConfig(running, {
    initial: running,
    logger,
    load: () => parse(`[log]\nlevel = "error"`),
    apply: (c) => (level = c.log.level),
    pinned: new Set(["log.level"]),
  });
  assert.equal(level, "info");
  assert.equal(lines[0].pinned_by_flag, "log.level");
});
