/** The chart renderer: what it picks from a result, and that its SVG and text hold up. */
import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import {
  type ChartData,
  chartSeries,
  renderSvg,
  renderTerminal,
  shouldNormalize,
} from "./chart.ts";
import { formatResult } from "./format.ts";
import type { QueryResult } from "./mod.ts";

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 24, 12);

function result(columns: string[], rows: unknown[][], truncated = false): QueryResult {
  return { columns, rows, truncated };
}

/** Two symbols a few hours long, prices on very different scales unless `similar`. */
function prices(similar = false): ChartData {
  const rows: unknown[][] = [];
  for (let h = 0; h < 6; h++) {
    rows.push([T0 + h * H, "BTC-USD", 90_000 + 500 * Math.sin(h)]);
    rows.push([T0 + (h + 1) * H, similar ? "BTC-USDC" : "SOL-USD", (similar ? 90_100 : 200) + h]);
  }
  return chartSeries(result(["event_time", "symbol", "price"], rows));
}

/** Balanced tags, quoted attributes, and no stray `<` or `&` anywhere: well-formed enough. */
function assertWellFormed(xml: string): void {
  const attr = `\\s+[\\w:-]+="(?:[^"<&]|&(?:amp|lt|gt|quot|apos);)*"`;
  const token = new RegExp(
    `<(/?)([A-Za-z][\\w:-]*)((?:${attr})*)\\s*(/?)>|<|&(?!(?:amp|lt|gt|quot|apos);)`,
    "g",
  );
  const stack: string[] = [];
  let roots = 0;
  for (const m of xml.matchAll(token)) {
    assert.ok(m[2], `stray ${JSON.stringify(m[0])} in ${xml.slice(m.index - 40, m.index + 40)}`);
    if (stack.length === 0) roots++;
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    else if (!m[4]) stack.push(m[2]);
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "one root element");
  assert.match(xml, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
}

/** The plot area and each series' points, read back from the SVG. */
function parseSvg(svg: string) {
  const area =
    /<rect class="plot-area" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/
      .exec(svg)!.slice(1).map(Number);
  const series = [
    ...svg.matchAll(/<polyline class="series" data-series="([^"]*)"[^>]*points="([^"]*)"/g),
  ]
    .map((m) => ({ name: m[1], points: m[2].split(" ").map((xy) => xy.split(",").map(Number)) }));
  const [left, top, width, height] = area;
  return { left, top, right: left + width, bottom: top + height, series };
}

Deno.test("chartSeries: an hourly result charts close at each dt+hour, per symbol, in time order", () => {
  const data = chartSeries(result(
    ["dt", "hour", "symbol", "records", "open", "high", "low", "close", "vwap"],
    [
      ["2026-11-24", "13", "ETH-USD", 3, 1, 9, 1, 3010, 3005],
      ["2026-11-24", "12", "ETH-USD", 3, 1, 9, 1, 3000, 3005],
      ["2026-11-24", "23", "BTC-USD", 3, 1, 9, 1, 90_000, 1],
      ["2026-11-25", "00", "BTC-USD", 3, 1, 9, 1, 90_500, 1],
      ["2026-11-25", "01", "BTC-USD", 3, 1, 9, 1, null, 1], // no close: skipped
      [null, "02", "BTC-USD", 3, 1, 9, 1, 1, 1], // no day: skipped
    ],
  ));
  assert.equal(data.timeColumn, "dt+hour");
  assert.equal(data.valueColumn, "close");
  assert.equal(data.skipped, 2);
  assert.deepEqual(data.series, [
    { name: "BTC-USD", points: [{ t: T0 + 11 * H, v: 90_000 }, { t: T0 + 12 * H, v: 90_500 }] },
    { name: "ETH-USD", points: [{ t: T0, v: 3000 }, { t: T0 + H, v: 3010 }] },
  ]);
});

Deno.test("chartSeries: event_time as Date, ISO or Trino text, epoch ms number, bigint or digits", () => {
  const data = chartSeries(result(["event_time", "ingest_time", "symbol", "price"], [
    [new Date(T0 + 5 * H), null, "BTC-USD", 6],
    ["2026-11-24T13:00:00.000Z", null, "BTC-USD", 2],
    ["2026-11-24 14:00:00.000 UTC", null, "BTC-USD", "3.5"], // Athena: decimal as text
    [BigInt(T0 + 3 * H), null, "BTC-USD", 4n],
    [String(T0 + 4 * H), null, "BTC-USD", 5],
    [T0, null, "BTC-USD", 1],
    [null, T0 + 6 * H, "BTC-USD", 7], // no event_time: its ingest_time, as the queries do
    [null, null, "BTC-USD", 8], // no time at all: skipped
    ["yesterday", null, "BTC-USD", 9], // unreadable: skipped
    [T0, null, "BTC-USD", "n/a"], // no number: skipped
  ]));
  assert.equal(data.timeColumn, "event_time");
  assert.equal(data.skipped, 3);
  assert.deepEqual(data.series.map((s) => s.name), ["BTC-USD"]);
  assert.deepEqual(
    data.series[0].points,
    [1, 2, 3.5, 4, 5, 6, 7].map((v, i) => ({ t: T0 + i * H, v })),
  );
});

Deno.test("chartSeries: value is the first of close, price, price_usd, vwap; source splits series only when several", () => {
  const latest = ["symbol", "source", "price", "price_usd", "change_pct_24h", "event_time"];
  const one = chartSeries(result(latest, [["BTC-USD", "coinbase", 1, 2, 0, T0]]));
  assert.equal(one.valueColumn, "price");
  assert.deepEqual(one.series.map((s) => s.name), ["BTC-USD"]);
  const two = chartSeries(result(latest, [
    ["BTC-USD", "kraken", 1, 2, 0, T0],
    ["BTC-USD", "coinbase", 1, 2, 0, T0],
  ]));
  assert.deepEqual(two.series.map((s) => s.name), ["BTC-USD coinbase", "BTC-USD kraken"]);
  const noSymbol = chartSeries(result(["ingest_time", "vwap"], [[T0, 1]], true));
  assert.equal(noSymbol.timeColumn, "ingest_time");
  assert.deepEqual(noSymbol.series.map((s) => s.name), ["vwap"]);
  assert.equal(noSymbol.truncated, true);
});

Deno.test("chartSeries: a result without a time or a value column is a usage error naming the columns", () => {
  for (
    const columns of [["symbol", "price"], ["event_time", "symbol", "change_pct_24h"], ["rank"]]
  ) {
    assert.throws(() => chartSeries(result(columns, [])), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, 2);
      assert.doesNotMatch(error.message, /\n/);
      assert.match(error.message, /event_time, ingest_time, or dt with hour/);
      assert.match(error.message, /close, price, price_usd, vwap/);
      assert.ok(error.message.endsWith(`it has ${columns.join(", ")}`), error.message);
      return true;
    });
  }
});

Deno.test("renderSvg: well-formed, every point plotted inside the plot area, time spans its width", () => {
  const data = prices();
  const svg = renderSvg(data, { title: "BTC & SOL" });
  assertWellFormed(svg);
  assert.doesNotMatch(svg, /<script|javascript:|href=/i);
  const { left, right, top, bottom, series } = parseSvg(svg);
  assert.deepEqual(series.map((s) => s.name), ["BTC-USD", "SOL-USD"]);
  series.forEach((s, i) => {
    assert.equal(s.points.length, data.series[i].points.length);
    for (const [x, y] of s.points) {
      assert.ok(x >= left && x <= right && y >= top && y <= bottom, `${x},${y} outside`);
    }
    // Time increases left to right.
    assert.deepEqual(s.points.map(([x]) => x), s.points.map(([x]) => x).sort((a, b) => a - b));
  });
  assert.equal(series[0].points[0][0], left, "the earliest point is at the left edge");
  assert.equal(series[1].points.at(-1)![0], right, "the latest point is at the right edge");
  assert.ok(series[1].points[0][0] > left, "SOL starts an hour later");
  const legend = [...svg.matchAll(/<g class="legend-item">.*?<text[^>]*>([^<]*)</g)].map((m) =>
    m[1]
  );
  assert.deepEqual(legend, ["BTC-USD", "SOL-USD"]);
  assert.match(svg, />BTC &amp; SOL</);
  assert.match(svg, />2026-11-24 12:00 – 2026-11-24 18:00 UTC</);
  // Distinct colours per series.
  const colours = [...svg.matchAll(/<polyline[^>]* stroke="(#[0-9A-F]{6})"/g)].map((m) => m[1]);
  assert.equal(new Set(colours).size, 2);
});

Deno.test("renderSvg: names from data are escaped everywhere, and the output is deterministic", () => {
  const hostile = `<script>alert(1)</script>&"'`;
  const rows = [[T0, hostile, 1], [T0 + H, hostile, 2], [T0, "BTC-USD", 3], [T0 + H, "BTC-USD", 4]];
  const svg = renderSvg(chartSeries(result(["event_time", "symbol", "price"], rows)), {
    title: hostile,
  });
  assertWellFormed(svg);
  assert.doesNotMatch(svg, /<script|<\/script|alert\(1\)<|&"|"'/);
  const escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&apos;";
  // Title, polyline attribute, its tooltip, legend.
  assert.equal(svg.split(escaped).length - 1, 4);
  // Row order does not matter, and the same input gives the same bytes.
  const again = renderSvg(
    chartSeries(result(["event_time", "symbol", "price"], rows.toReversed())),
    { title: hostile },
  );
  assert.equal(again, svg);
});

Deno.test("normalisation: BTC against SOL is % change from the first point; similar prices stay raw", () => {
  const mixed = prices();
  assert.equal(shouldNormalize(mixed.series), true);
  const svg = renderSvg(mixed);
  assert.match(svg, />% change from first point \(price\)</);
  assert.match(svg, />\+?\d+(\.\d+)?%</);
  // Both series start at 0%: the same height.
  const { series } = parseSvg(svg);
  assert.equal(series[0].points[0][1], series[1].points[0][1]);

  const similar = prices(true);
  assert.equal(shouldNormalize(similar.series), false);
  const raw = renderSvg(similar);
  assert.match(raw, />price \(quote currency\)</); // BTC-USDC is not known to be USD
  assert.match(raw, />90,\d00</); // thousands separators
  assert.doesNotMatch(raw, /\d%</);
  assert.match(renderSvg(similar, { normalize: true }), />% change from first point/);

  // One point each (the `latest` query): % change would put them all at 0, so raw.
  const latest = chartSeries(result(["event_time", "symbol", "price_usd"], [
    [T0, "BTC-USD", 90_000],
    [T0, "SOL-USD", 200],
  ]));
  assert.equal(shouldNormalize(latest.series), false);
  assert.match(renderSvg(latest), />price_usd \(USD\)</);
});

Deno.test("renderTerminal: the requested size, min/max labels, time range and a legend", () => {
  const data = prices(true);
  for (const [width, height] of [[72, 12], [50, 8], [100, 20]]) {
    const text = renderTerminal(data, { width, height });
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, height, text);
    assert.equal(Math.max(...lines.map((l) => [...l].length)), width, text);
    assert.match(lines[0], /^90,455 ┤/); // max: BTC at 90,000 + 500 sin(2)
    assert.match(lines[height - 4], /^89,521 ┤/); // min: 90,000 + 500 sin(5)
    assert.match(lines[height - 2], /^ +2026-11-24 12:00 +2026-11-24 18:00 UTC$/);
    assert.equal(lines.at(-1), "1 BTC-USD  2 BTC-USDC  · price (quote currency)");
    assert.ok(!text.includes("\x1b"), "no ANSI unless asked");
    // Each series' line ends in its tag.
    assert.ok(lines.some((l) => l.endsWith(" 1")) && lines.some((l) => l.endsWith(" 2")), text);
  }
  assert.equal(renderTerminal(data).split("\n").length - 1, 12, "default 72x12");
  assert.ok(renderTerminal(data, { color: true }).includes("\x1b[34m"));
  const mixed = renderTerminal(prices());
  assert.match(mixed, /^\+\d+\.\d+% ┤/);
  assert.match(mixed, /% change from first point \(price\)/);
});

Deno.test("renderers: no data points is a chart that says so, not an error", () => {
  const empty = chartSeries(result(["event_time", "symbol", "price"], [[null, "BTC-USD", 1]]));
  assert.deepEqual(empty.series, []);
  const svg = renderSvg(empty);
  assertWellFormed(svg);
  assert.match(svg, /no data points/);
  assert.match(renderTerminal(empty), /^\(no data points\)\n/);
});

Deno.test("control characters from data reach neither the terminal nor the SVG; absurd values are skipped", () => {
  const evil = "A\u0001B\u001b[31mX\u009b";
  const data = chartSeries(
    result(["event_time", "symbol", "price"], [
      [T0, evil, 1],
      [T0 + H, evil, 2],
      [T0 + 2 * H, evil, 1e308],
      [T0 + 3 * H, evil, -1e308],
    ]),
  );
  assert.equal(data.skipped, 2, "±1e308 are not prices");
  const svg = renderSvg(data);
  // deno-lint-ignore no-control-regex
  const illegal = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
  assert.doesNotMatch(svg, illegal, "no byte XML 1.0 forbids");
  assert.doesNotMatch(svg, /NaN|Infinity/);
  assertWellFormed(svg);
  assert.doesNotMatch(renderTerminal(data), illegal, "no escape sequence for the terminal");
  const table = formatResult(result(["symbol"], [[evil]]), "table");
  assert.doesNotMatch(table, illegal);
  assert.match(table, /A\uFFFDB\uFFFD\[31mX\uFFFD/);
  assert.equal(
    JSON.parse(formatResult(result(["symbol"], [[evil]]), "json"))[0].symbol,
    evil,
    "json keeps the exact text",
  );
});
