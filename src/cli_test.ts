import assert from "node:assert/strict";
import { HELP, parseCli, parseDuration } from "./cli.ts";
import { EXIT_CODE_TABLE, UsageError } from "./errors.ts";

Deno.test("cli: durations", () => {
  assert.equal(parseDuration("90"), 90_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("5 minutes"), undefined);
  assert.equal(parseDuration("5x"), undefined);
});

Deno.test("cli: flags parse into mode flags", () => {
  const parsed = parseCli([
    "--mode",
    "produce",
    "--max-records",
    "10",
    "--duration",
    "1m",
    "--source",
    "a",
    "--source",
    "b",
  ]);
  assert.equal(parsed.mode, "produce");
  assert.deepEqual([parsed.flags.maxRecords, parsed.flags.durationMs, parsed.flags.sources], [
    10,
    60_000,
    ["a", "b"],
  ]);
});

Deno.test("cli: usage errors", () => {
  assert.throws(() => parseCli(["--mode", "query", "--max-records", "1"]), UsageError);
  assert.throws(() => parseCli(["produce"]), /Unexpected argument "produce"/);
  assert.throws(
    () => parseCli(["--mode", "produce", "--max-records", "0"]),
    /expected a whole number >= 1/,
  );
  assert.throws(
    () => parseCli(["--mode", "query", "--format", "xml"]),
    /use table, csv, json or chart/,
  );
  assert.throws(() => parseCli(["--log-level", "loud"]), /Invalid --log-level "loud"/);
});

Deno.test("cli: the help carries the exit-code table", () => {
  assert.ok(HELP.includes(EXIT_CODE_TABLE));
});
