import assert from "node:assert/strict";
import { createLogger, resolveLogFormat } from "./log.ts";

Deno.test("resolveLogFormat(): auto is text on a terminal and JSON lines otherwise", () => {
  assert.equal(resolveLogFormat("auto", () => true), "text");
  assert.equal(resolveLogFormat("auto", () => false), "json");
  assert.equal(resolveLogFormat("text", () => false), "text");
  assert.equal(resolveLogFormat("json", () => true), "json");
});

Deno.test("createLogger(): JSON lines carry time, level, message and bound fields; children rebind component", () => {
  const lines: string[] = [];
  const root = createLogger(
    "info",
    "json",
    { mode: "consume", component: "consume" },
    (l) => lines.push(l),
  );
  root.info("started", { offset: 12n });
  root.child({ component: "bus" }).warn("slow");
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.match(a.time, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual([a.level, a.message, a.mode, a.component, a.offset], [
    "info",
    "started",
    "consume",
    "consume",
    "12",
  ]);
  assert.deepEqual([b.level, b.mode, b.component], ["warn", "consume", "bus"]);
});

Deno.test("createLogger(): a level function is read at each line, by children too", () => {
  const lines: string[] = [];
  let level: "info" | "debug" = "info";
  const child = createLogger(() => level, "text", {}, (l) => lines.push(l)).child({ c: 1 });
  child.debug("hidden");
  level = "debug";
  child.debug("shown");
  assert.equal(child.level, "debug");
  assert.deepEqual(lines, ["debug shown c=1"]);
});
