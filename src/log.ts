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
/** As configured: `auto` picks JSON lines when stderr is not a terminal, text on a terminal. */
export type LogFormatSetting = LogFormat | "auto";
export const LOG_FORMATS = ["auto", "text", "json"] as const;

/** Resolve `auto`: journald and files get JSON lines, a person at a terminal gets text. */
export function resolveLogFormat(
  setting: LogFormatSetting,
  stderrIsTerminal: () => boolean = () => Deno.stderr.isTerminal(),
): LogFormat {
  if (setting !== "auto") return setting;
  return stderrIsTerminal() ? "text" : "json";
}

/**
 * `level` may be a function: the level is then read at each line, so a SIGHUP reload can
 * change it for every logger derived from this one.
 */
export function createLogger(
  level: LogLevel | (() => LogLevel) = "info",
  format: LogFormat = "text",
  bound: LogFields = {},
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const current = typeof level === "function" ? level : () => level;
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < RANK[current()]) return;
    const all = { ...bound, ...fields };
    if (format === "json") {
      write(
        redact(
          JSON.stringify({ time: new Date().toISOString(), level: at, message, ...all }, jsonValue),
        ),
      );
      return;
    }
    const extra = Object.entries(all).map(([k, v]) => `${k}=${formatValue(v)}`).join(" ");
    write(redact(`${at.padEnd(5)} ${message}${extra ? " " + extra : ""}`));
  };
  return {
    get level() {
      return current();
    },
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(current, format, { ...bound, ...fields }, write),
  };
}

/** JSON.stringify cannot write bigints (Kafka offsets may be): write them as strings. */
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? String(value);
}

/** A logger that drops everything, for library callers and tests. */
export const silentLogger: Logger = createLogger("error", "text", {}, () => {});
