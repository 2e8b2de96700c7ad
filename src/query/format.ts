/** Query output: an aligned table or a terminal chart for people, csv or json for programs. */
import { stringify } from "csv-stringify/sync";
import { chartSeries, renderTerminal } from "./chart.ts";
import type { QueryResult } from "./mod.ts";
import { printable } from "./printable.ts";

export type OutputFormat = "table" | "csv" | "json" | "chart";

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(12)));
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return printable(JSON.stringify(value));
  return printable(String(value));
}

function table(result: QueryResult): string {
  const header = result.columns.map((c) => printable(String(c)));
  const body = result.rows.map((row) => row.map(cellText));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const numeric = header.map((_, i) =>
    result.rows.length > 0 && result.rows.every((r) => r[i] === null || typeof r[i] === "number")
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const count = `(${result.rows.length} row${result.rows.length === 1 ? "" : "s"}${
    result.truncated ? ", truncated" : ""
  })`;
  return [line(header), rule, ...body.map(line), count].join("\n") + "\n";
}

export function formatResult(result: QueryResult, format: OutputFormat): string {
  switch (format) {
    case "table":
      return table(result);
    case "csv":
      return stringify([
        result.columns as string[],
        ...result.rows.map((r) =>
          r.map((v) => (v === null ? "" : typeof v === "object" ? JSON.stringify(v) : v))
        ),
      ]);
    case "json":
      return JSON.stringify(
        result.rows.map((row) =>
          Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null]))
        ),
        null,
        2,
      ) + "\n";
    case "chart":
      return renderTerminal(chartSeries(result));
  }
}
