import assert from "node:assert/strict";
import { escapeHelp, escapeLabelValue, formatSampleValue, MetricsRegistry } from "./metrics.ts";

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed, nothing else", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("BTC-USD é {}"), "BTC-USD é {}");
});

Deno.test("escapeHelp() escapes backslash and line feed but keeps quotes", () => {
  assert.equal(escapeHelp('x\\y\n"z"'), 'x\\\\y\\n"z"');
});

Deno.test("formatSampleValue() spells NaN and infinities as the format wants", () => {
  assert.deepEqual([NaN, Infinity, -Infinity, 1.5, 0].map(formatSampleValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "1.5",
    "0",
  ]);
});

Deno.test("render() writes HELP and TYPE before each metric's samples, with escaped labels", () => {
  const r = new MetricsRegistry();
  const c = r.counter("cryptopipe_test_records_total", {
    help: "Records\nseen",
    labels: ["source", "symbol"],
  });
  c.inc({ source: "sim", symbol: 'ODD"\\\nNAME' }, 3);
  c.inc({ source: "sim", symbol: "BTC-USD" });
  c.inc({ source: "sim", symbol: "BTC-USD" }, 2);
  r.gauge("cryptopipe_test_lag_records", { help: "Lag" }).set({}, 7);
  const text = r.render();
  const lines = text.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "# HELP cryptopipe_test_records_total Records\\nseen",
    "# TYPE cryptopipe_test_records_total counter",
    'cryptopipe_test_records_total{source="sim",symbol="ODD\\"\\\\\\nNAME"} 3',
    'cryptopipe_test_records_total{source="sim",symbol="BTC-USD"} 3',
  ]);
  assert.deepEqual(lines.slice(4, 7), [
    "# HELP cryptopipe_test_lag_records Lag",
    "# TYPE cryptopipe_test_lag_records gauge",
    "cryptopipe_test_lag_records 7",
  ]);
  assert.ok(text.endsWith("\n"));
});

Deno.test("a histogram writes cumulative buckets, +Inf, _sum and _count", () => {
  const r = new MetricsRegistry();
  const h = r.histogram("cryptopipe_test_seconds", {
    help: "t",
    labels: ["mode"],
    buckets: [1, 0.1],
  });
  for (const v of [0.05, 0.5, 2]) h.observe({ mode: "consume" }, v);
  const samples = r.render().split("\n").filter((l) => l.startsWith("cryptopipe_test_seconds"));
  assert.deepEqual(samples, [
    'cryptopipe_test_seconds_bucket{mode="consume",le="0.1"} 1',
    'cryptopipe_test_seconds_bucket{mode="consume",le="1"} 2',
    'cryptopipe_test_seconds_bucket{mode="consume",le="+Inf"} 3',
    'cryptopipe_test_seconds_sum{mode="consume"} 2.55',
    'cryptopipe_test_seconds_count{mode="consume"} 3',
  ]);
});

Deno.test("each metric keeps at most maxSeries label sets; the rest are counted as dropped", () => {
  const r = new MetricsRegistry(2);
  const g = r.gauge("cryptopipe_test_freshness_seconds", { help: "f", labels: ["symbol"] });
  for (const symbol of ["A-USD", "B-USD", "C-USD", "D-USD"]) g.set({ symbol }, 1);
  g.set({ symbol: "A-USD" }, 5);
  const text = r.render();
  assert.equal(text.split("\n").filter((l) => l.startsWith("cryptopipe_test_freshness")).length, 2);
  assert.match(text, /cryptopipe_test_freshness_seconds\{symbol="A-USD"\} 5/);
  assert.match(text, /^cryptopipe_metrics_series_dropped_total 2$/m);
});

Deno.test("names are checked: bad metric or label names, duplicates and negative increments throw", () => {
  const r = new MetricsRegistry();
  assert.throws(() => r.counter("1bad", { help: "" }), TypeError);
  assert.throws(() => r.counter("ok_total", { help: "", labels: ["bad-label"] }), TypeError);
  assert.throws(() => r.histogram("h", { help: "", labels: ["le"] }), TypeError);
  const c = r.counter("dup_total", { help: "" });
  assert.throws(() => r.counter("dup_total", { help: "" }), TypeError);
  assert.throws(() => c.inc({}, -1), RangeError);
});

Deno.test("collectors run before each render (ages computed at scrape time)", () => {
  const r = new MetricsRegistry();
  const g = r.gauge("cryptopipe_test_age_seconds", { help: "age" });
  r.onCollect((now) => g.set({}, (now - 1000) / 1000));
  assert.match(r.render(3000), /^cryptopipe_test_age_seconds 2$/m);
  assert.match(r.render(5000), /^cryptopipe_test_age_seconds 4$/m);
});
