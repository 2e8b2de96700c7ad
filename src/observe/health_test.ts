import assert from "node:assert/strict";
import { Health } from "./health.ts";

const limits = { sourceStaleMs: 10_000, sinkStaleMs: 30_000 };

Deno.test("Health: fresh components are ok; a source past its limit is stale and named", () => {
  const h = new Health("produce", limits);
  h.watch("source/a", "source", 0);
  h.watch("source/b", "source", 0);
  h.watch("sink", "sink", 0);
  h.progress("source/a", 9_000);
  h.progress("sink", 9_000);
  assert.equal(h.report(10_000).status, "ok", "exactly at the limit is not stale yet");
  const later = h.report(15_000);
  assert.equal(later.status, "stale");
  assert.deepEqual(later.stale, ["source/b"]);
  const b = later.components.find((c) => c.component === "source/b")!;
  assert.deepEqual([b.kind, b.seconds_since_progress, b.limit_secs, b.stale], [
    "source",
    15,
    10,
    true,
  ]);
});

Deno.test("Health: the sink has its own limit; progress makes a stale component ok again", () => {
  const h = new Health("consume", limits);
  h.watch("sink", "sink", 0);
  assert.equal(h.report(29_000).status, "ok");
  assert.deepEqual(h.report(31_000).stale, ["sink"]);
  h.progress("sink", 31_000);
  assert.equal(h.report(32_000).status, "ok");
  h.progress("sink", 5_000);
  assert.equal(h.report(32_000).status, "ok", "an older timestamp never moves progress back");
});

Deno.test("Health: new limits apply at once; a forgotten component is no longer checked", () => {
  const h = new Health("produce", limits);
  h.watch("source/a", "source", 0);
  assert.equal(h.report(5_000).status, "ok");
  h.setLimits({ ...limits, sourceStaleMs: 1_000 });
  assert.deepEqual(h.report(5_000).stale, ["source/a"]);
  h.forget("source/a");
  assert.deepEqual(h.report(5_000), { status: "ok", mode: "produce", stale: [], components: [] });
});
