/**
 * Query results as a picture: price over time, as a self-contained SVG or a plain-text terminal
 * chart. Pure functions of the result, deterministic (same input, same bytes), so the CLI can
 * write the output anywhere and tests can compare it.
 */
import { UsageError } from "../errors.ts";
import type { QueryResult } from "./mod.ts";
import { printable } from "./printable.ts";

export interface ChartPoint {
  /** Epoch milliseconds, UTC. */
  readonly t: number;
  readonly v: number;
}

export interface ChartSeries {
  readonly name: string;
  /** Sorted by time. */
  readonly points: readonly ChartPoint[];
}

export interface ChartData {
  /** The column(s) the time axis came from, e.g. "event_time" or "dt+hour". */
  readonly timeColumn: string;
  readonly valueColumn: string;
  /** Sorted by name. */
  readonly series: readonly ChartSeries[];
  /** Rows left out for a missing or unreadable time or value. */
  readonly skipped: number;
  readonly truncated: boolean;
}

const VALUE_COLUMNS = ["close", "price", "price_usd", "vwap"];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Epoch ms from a Date, epoch ms (number, bigint or digits), or ISO / Trino timestamp text. */
function timeOf(value: unknown): number | null {
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : null;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value !== "string") return null;
  if (/^\d+$/.test(value)) return Number(value);
  // Trino prints "2026-11-24 12:00:00.000 UTC"; text without a zone is UTC, never local time.
  const m =
    /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}:?\d{2}| UTC)?$/
      .exec(value.trim());
  if (!m) return null;
  const zone = !m[3] || m[3] === " UTC" ? "Z" : m[3];
  const t = Date.parse(`${m[1]}T${m[2] ?? "00:00"}${zone}`);
  return Number.isFinite(t) ? t : null;
}

/** Numbers, bigints and numeric text (Athena returns decimals as text). */
function numberOf(value: unknown): number | null {
  const n = typeof value === "number"
    ? value
    : typeof value === "bigint" || (typeof value === "string" && value.trim() !== "")
    ? Number(value)
    : NaN;
  return Number.isFinite(n) ? n : null;
}

/** Pick the time axis, the value and the series key from a result by column names. */
const MAX_PLOTTED = 1e15;

export function chartSeries(result: QueryResult): ChartData {
  const cols = result.columns.map((c) => String(c).toLowerCase());
  const at = (name: string) => cols.indexOf(name);
  const [event, ingest, dt, hour] = ["event_time", "ingest_time", "dt", "hour"].map(at);
  const valueColumn = VALUE_COLUMNS.find((c) => at(c) >= 0);
  const timeColumn = event >= 0
    ? "event_time"
    : ingest >= 0
    ? "ingest_time"
    : dt >= 0
    ? (hour >= 0 ? "dt+hour" : "dt")
    : undefined;
  if (!timeColumn || !valueColumn) {
    throw new UsageError(
      `Cannot chart this result: it needs a time column (event_time, ingest_time, or dt with hour) and a value column (${
        VALUE_COLUMNS.join(", ")
      }); it has ${cols.length ? cols.join(", ") : "no columns"}`,
    );
  }
  const v = at(valueColumn), symbol = at("symbol"), source = at("source");
  // Like the named queries, a missing event_time falls back to the row's ingest_time.
  const rowTime = (row: readonly unknown[]): number | null => {
    if (event >= 0 || ingest >= 0) {
      return (event >= 0 ? timeOf(row[event]) : null) ?? (ingest >= 0 ? timeOf(row[ingest]) : null);
    }
    const day = timeOf(typeof row[dt] === "string" ? row[dt].slice(0, 10) : row[dt]);
    if (day === null || hour < 0) return day;
    const h = numberOf(row[hour]); // '00'..'23' text in both engines
    return h !== null && Number.isInteger(h) && h >= 0 && h < 24 ? day + h * HOUR : null;
  };
  const sources = new Set(source >= 0 ? result.rows.map((r) => r[source] ?? null) : []);
  const groups = new Map<string, { t: number; v: number }[]>();
  let skipped = 0;
  for (const row of result.rows) {
    const t = rowTime(row), value = numberOf(row[v]);
    // Beyond any price: such a value would only overflow the axis arithmetic to Infinity.
    if (t === null || value === null || Math.abs(value) > MAX_PLOTTED) {
      skipped++;
      continue;
    }
    let name = symbol >= 0 ? String(row[symbol] ?? "(no symbol)") : valueColumn;
    if (sources.size > 1) name += ` ${row[source] ?? "(no source)"}`;
    name = printable(name); // legends go to terminals and SVG alike
    const points = groups.get(name) ?? groups.set(name, []).get(name)!;
    points.push({ t, v: value });
  }
  const series = [...groups.keys()].sort().map((name) => ({
    name,
    points: groups.get(name)!.sort((a, b) => a.t - b.t), // stable: ties keep row order
  }));
  return { timeColumn, valueColumn, series, skipped, truncated: result.truncated };
}

/** What is actually plotted: raw prices, or % change from each series' first point. */
type Prepared = { series: readonly ChartSeries[]; normalized: boolean; label: string };

/**
 * Different price scales (BTC ~ 90000 vs SOL ~ 200) would squash all but the largest series
 * into a flat line at the bottom, so when the series' levels differ by more than 10x, each
 * is plotted as % change from its first point instead.
 */
export function shouldNormalize(series: readonly ChartSeries[]): boolean {
  const [lo, hi] = extent(series.map((s) => extent(s.points.map((p) => Math.abs(p.v)))[1]));
  return series.some((s) => s.points.length > 1) && hi > 10 * lo; // one point each: all 0%
}

function prepare(data: ChartData, normalize?: boolean): Prepared {
  const normalized = (normalize ?? shouldNormalize(data.series)) &&
    data.series.every((s) => s.points[0]?.v !== 0); // % of 0 is undefined
  // Only price_usd or *-USD symbols are known to be USD; other prices are in the quote currency.
  const usd = data.valueColumn === "price_usd" ||
    data.series.every((s) => /-USD$/.test(s.name.split(" ")[0]));
  const unit = usd ? "USD" : "quote currency";
  if (!normalized) {
    return { series: data.series, normalized, label: `${data.valueColumn} (${unit})` };
  }
  const series = data.series.map((s) => ({
    name: s.name,
    points: s.points.map((p) => ({ t: p.t, v: (p.v / s.points[0].v - 1) * 100 })),
  }));
  return { series, normalized, label: `% change from first point (${data.valueColumn})` };
}

/** [min, max] without spreading a large array into Math.min's arguments. */
function extent(values: number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

/** A 1, 2 or 5 times a power of ten step giving about `count` intervals. */
function niceStep(span: number, count: number): number {
  const raw = span / count, power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
}

/** Thousands separators, and as many decimals as the step between labels needs. */
function formatNumber(v: number, step: number, percent: boolean): string {
  const decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  const text = new Intl.NumberFormat("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  }).format(v === 0 ? 0 : v); // never "-0"
  return percent ? `${v > 0 ? "+" : ""}${text}%` : text;
}

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
const iso = (t: number) => new Date(t).toISOString();
/** "2026-11-24 12:00", with seconds when the whole chart spans less than ten minutes. */
const stamp = (t: number, span: number) =>
  iso(t).slice(0, span < 600_000 ? 19 : 16).replace("T", " ");
const monthDay = (t: number) => `${MONTHS[new Date(t).getUTCMonth()]} ${new Date(t).getUTCDate()}`;
/** Okabe-Ito, colour-blind friendly (yellow left out: unreadable on white); dashed once repeated. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"];
const stroke = (i: number) =>
  `stroke="${PALETTE[i % PALETTE.length]}"${i >= PALETTE.length ? ` stroke-dasharray="6 3"` : ""}`;

/** Symbol names come from data: every text and attribute goes through this. */
const XML: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const escapeXml = (text: string) => printable(text).replace(/[&<>"']/g, (c) => XML[c] ?? "&apos;");

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600]
  .concat([43200, 86400, 172800, 604800, 1209600, 2592000]).map((seconds) => seconds * 1000);

export function renderSvg(
  data: ChartData,
  options: { title?: string; width?: number; height?: number; normalize?: boolean } = {},
): string {
  const { series, normalized, label } = prepare(data, options.normalize);
  const width = options.width ?? 800, plotHeight = (options.height ?? 420) - 110;
  const points = series.flatMap((s) => s.points);
  let [t0, t1] = extent(points.map((p) => p.t));
  let [v0, v1] = extent(points.map((p) => p.v));
  if (!points.length) [t0, t1, v0, v1] = [0, HOUR, 0, 1];
  if (t0 === t1) [t0, t1] = [t0 - HOUR / 2, t1 + HOUR / 2];
  if (v0 === v1) [v0, v1] = [v0 - (Math.abs(v0) / 100 || 1), v1 + (Math.abs(v1) / 100 || 1)];
  const yStep = niceStep(v1 - v0, 5);
  const [y0, y1] = [Math.floor(v0 / yStep) * yStep, Math.ceil(v1 / yStep) * yStep];
  const yTicks: number[] = [];
  for (let y = y0; y <= y1 + yStep / 2; y += yStep) yTicks.push(Number(y.toPrecision(12)));
  const yLabels = yTicks.map((y) => formatNumber(y, yStep, normalized));
  // Plot area: room on the left for the longest y label and the rotated axis title.
  const left = 34 + 7 * Math.max(...yLabels.map((l) => l.length)), top = 48;
  const right = width - 24, bottom = top + plotHeight;
  const x = (t: number) => left + (t - t0) / (t1 - t0) * (right - left);
  const y = (v: number) => bottom - (v - y0) / (y1 - y0) * (bottom - top);
  const n = (v: number) => Number(v.toFixed(2)); // short, stable coordinates

  // Time ticks: the finest step leaving ~90px per label; a second line when the day changes.
  const labels = (right - left) / 90, month = 30 * DAY;
  const tStep = TIME_STEPS.find((s) => (t1 - t0) / s <= labels) ??
    Math.ceil((t1 - t0) / labels / month) * month;
  const tTicks: number[] = [];
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) tTicks.push(t);
  const out: string[] = [
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="bold">${
      escapeXml(options.title ?? `${data.valueColumn} over time`)
    }</text>`,
    `<text x="${right}" y="22" text-anchor="end" fill="#666">${
      points.length ? `${stamp(t0, t1 - t0)} – ${stamp(t1, t1 - t0)} UTC` : "no data points"
    }${data.truncated ? " (truncated result)" : ""}</text>`,
    `<rect class="plot-area" x="${left}" y="${top}" width="${right - left}" height="${
      bottom - top
    }" fill="none" stroke="#999"/>`,
  ];
  yTicks.forEach((v, i) => {
    out.push(
      `<line x1="${left}" y1="${n(y(v))}" x2="${right}" y2="${n(y(v))}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${n(y(v) + 4)}" text-anchor="end">${yLabels[i]}</text>`,
    );
  });
  tTicks.forEach((t, i) => {
    const dayChanged = i === 0 || iso(t).slice(0, 10) !== iso(tTicks[i - 1]).slice(0, 10);
    const [first, second] = tStep < DAY
      ? [iso(t).slice(11, tStep < 60_000 ? 19 : 16), dayChanged ? monthDay(t) : ""]
      : [
        monthDay(t),
        i === 0 || iso(t).slice(0, 4) !== iso(tTicks[i - 1]).slice(0, 4) ? iso(t).slice(0, 4) : "",
      ];
    out.push(
      `<line x1="${n(x(t))}" y1="${top}" x2="${n(x(t))}" y2="${bottom + 4}" stroke="#e5e5e5"/>`,
      `<text x="${n(x(t))}" y="${bottom + 18}" text-anchor="middle">${first}</text>`,
    );
    if (second) {
      out.push(`<text x="${n(x(t))}" y="${bottom + 32}" text-anchor="middle">${second}</text>`);
    }
  });
  const midY = n((top + bottom) / 2);
  out.push(
    `<text x="14" y="${midY}" text-anchor="middle" transform="rotate(-90 14 ${midY})">${
      escapeXml(label)
    }</text>`,
    `<text x="${right}" y="${bottom + 46}" text-anchor="end" fill="#666">time (UTC)</text>`,
  );
  if (normalized) {
    out.push(`<line x1="${left}" y1="${n(y(0))}" x2="${right}" y2="${n(y(0))}" stroke="#999"/>`);
  }
  // Series: a line each, dots where points are few enough to see; dashed once colours repeat.
  series.forEach((s, i) => {
    out.push(
      `<polyline class="series" data-series="${escapeXml(s.name)}" fill="none" ${
        stroke(i)
      } stroke-width="2" points="${
        s.points.map((p) => `${n(x(p.t))},${n(y(p.v))}`).join(" ")
      }"><title>${escapeXml(s.name)}</title></polyline>`,
    );
    if (s.points.length <= 40) {
      for (const p of s.points) {
        out.push(
          `<circle cx="${n(x(p.t))}" cy="${n(y(p.v))}" r="2.5" fill="${
            PALETTE[i % PALETTE.length]
          }"/>`,
        );
      }
    }
  });
  // Legend below the time axis, wrapped to the width (text width estimated at 7px a char).
  let lx = left, ly = bottom + 66;
  series.forEach((s, i) => {
    const itemWidth = 30 + 7 * s.name.length;
    if (lx > left && lx + itemWidth > right) [lx, ly] = [left, ly + 20];
    out.push(
      `<g class="legend-item"><line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" ${
        stroke(i)
      } stroke-width="3"/><text x="${lx + 24}" y="${ly}">${escapeXml(s.name)}</text></g>`,
    );
    lx += itemWidth + 16;
  });
  const svgHeight = ly + 16; // the legend decides how tall the picture is
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${svgHeight}" viewBox="0 0 ${width} ${svgHeight}" font-family="Helvetica, Arial, sans-serif" font-size="12" fill="#333">`,
    ...out,
    "</svg>",
  ].join("\n") + "\n";
}

const BRAILLE_BITS = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
const TAGS = "123456789abcdefghijklmnopqrstuvwxyz";
const ANSI = [34, 33, 32, 31, 35, 36, 37];

/**
 * A braille line chart (2x4 dots a character) sharing one axis; `height` lines in all and
 * no line longer than `width`. With more than one series each line ends in a tag (1, 2, ...)
 * that the legend names, so the chart reads without colour; `color` adds ANSI colours.
 */
export function renderTerminal(
  data: ChartData,
  options: { width?: number; height?: number; color?: boolean; normalize?: boolean } = {},
): string {
  const { series, normalized, label } = prepare(data, options.normalize);
  const width = options.width ?? 72, height = options.height ?? 12;
  const many = series.length > 1;
  const legendItems = series.map((s, i) => (many ? `${TAGS[i % TAGS.length]} ${s.name}` : s.name));
  legendItems.push(`· ${label}`);
  const legend: string[] = [""];
  for (const item of legendItems) {
    const last = legend.length - 1;
    if (legend[last] && legend[last].length + 2 + item.length > width) legend.push(item);
    else legend[last] += (legend[last] ? "  " : "") + item;
  }
  const points = series.flatMap((s) => s.points);
  if (!points.length) return [`(no data points)`, ...legend].join("\n") + "\n";
  let [t0, t1] = extent(points.map((p) => p.t));
  const [v0, v1] = extent(points.map((p) => p.v));
  if (t0 === t1) [t0, t1] = [t0 - HOUR / 2, t1 + HOUR / 2];
  const step = (v1 - v0) / 100 || Math.abs(v1) / 100 || 1;
  const [top, bottom] = [formatNumber(v1, step, normalized), formatNumber(v0, step, normalized)];
  const gutter = Math.max(top.length, bottom.length) + 1;
  const rows = Math.max(2, height - 2 - legend.length);
  const cols = Math.max(8, width - gutter - 1 - (many ? 2 : 0));
  const [pw, ph] = [cols * 2, rows * 4];
  const mask = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  const owner = Array.from({ length: rows }, () => new Array<number>(cols).fill(-1));
  const px = (t: number) => Math.round((t - t0) / (t1 - t0) * (pw - 1));
  const py = (v: number) => v1 === v0 ? ph >> 1 : Math.round((v1 - v) / (v1 - v0) * (ph - 1));
  const dot = (x: number, y: number, i: number) => {
    mask[y >> 2][x >> 1] |= BRAILLE_BITS[y & 3][x & 1];
    owner[y >> 2][x >> 1] = i;
  };
  const tagRow = new Map<number, number>(); // row -> series whose tag sits there
  series.forEach((s, i) => {
    s.points.forEach((p, k) => {
      const [x, y] = [px(p.t), py(p.v)];
      const prev = k > 0 ? s.points[k - 1] : p;
      const [x0, y0] = [px(prev.t), py(prev.v)];
      const steps = Math.max(1, Math.abs(x - x0), Math.abs(y - y0));
      for (let j = 0; j <= steps; j++) {
        dot(Math.round(x0 + (x - x0) * j / steps), Math.round(y0 + (y - y0) * j / steps), i);
      }
    });
    // The tag goes beside the series' last point, or the nearest free row.
    const want = py(s.points.at(-1)!.v) >> 2;
    const row = [...Array(rows * 2).keys()].map((d) => want + (d % 2 ? -1 : 1) * ((d + 1) >> 1))
      .find((r) => r >= 0 && r < rows && !tagRow.has(r));
    if (row !== undefined) tagRow.set(row, i);
  });
  const paint = (text: string, i: number) =>
    options.color && i >= 0 ? `\x1b[${ANSI[i % ANSI.length]}m${text}\x1b[0m` : text;
  const lines = mask.map((cells, r) => {
    const yLabel = r === 0 ? top : r === rows - 1 ? bottom : "";
    const plot = cells.map((m, c) => paint(String.fromCharCode(0x2800 + m), owner[r][c])).join("");
    const tag = tagRow.has(r)
      ? " " + paint(TAGS[tagRow.get(r)! % TAGS.length], tagRow.get(r)!)
      : "";
    return `${yLabel.padStart(gutter - 1)} ${yLabel ? "┤" : "│"}${plot}${tag}`;
  });
  lines.push(`${" ".repeat(gutter)}└${"─".repeat(cols)}`);
  const [start, end, span] = [stamp(t0, t1 - t0), `${stamp(t1, t1 - t0)} UTC`, cols + 1];
  const times = start.length + end.length + 2 <= span
    ? start + end.padStart(span - start.length)
    : `${start} – ${end}`;
  lines.push(
    `${" ".repeat(gutter)}${times}`.slice(0, width),
    ...legend.map((l) => l.slice(0, width)),
  );
  return lines.join("\n") + "\n";
}
