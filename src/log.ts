/**
 * A tiny structured logger to stderr. stdout belongs to query results and `--help`,
 * so logs never mix with data a script may pipe. Every line passes through `redact`: a secret
 * (or a signed URL, an Authorization header) in a message or a field is blanked out.
 */

import { redact } from "./config/secrets.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogFormat = "text" | "json";

export function createLogger(
  level: LogLevel = "info",
  format: LogFormat = "text",
  bound: LogFields = {},
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    const all = { ...bound, ...fields };
    if (format === "json") {
      write(redact(JSON.stringify({ time: new Date().toISOString(), level: at, message, ...all })));
      return;
    }
    const extra = Object.entries(all).map(([k, v]) => `${k}=${formatValue(v)}`).join(" ");
    write(redact(`${at.padEnd(5)} ${message}${extra ? " " + extra : ""}`));
  };
  return {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(level, format, { ...bound, ...fields }, write),
  };
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? String(value);
}

/** A logger that drops everything, for library callers and tests. */
export const silentLogger: Logger = createLogger("error", "text", {}, () => {});
