/**
 * The command line: flags, help, and the one place where errors become exit codes and a
 * single line on stderr (with the stack only at --log-level debug).
 */
import { parseArgs } from "node:util";
import { configPath, denoConfigEnvironment, loadConfig, type LoadedConfig } from "./config/mod.ts";
import { closestName } from "./config/suggest.ts";
import { CryptopipeError, EXIT, EXIT_CODE_TABLE, messageOf, UsageError } from "./errors.ts";
import { createLogger, LOG_LEVELS, type LogLevel } from "./log.ts";
import type { ModeContext, ModeFlags } from "./modes/context.ts";
import { catalog } from "./modes/catalog.ts";
import { consume } from "./modes/consume.ts";
import { produce } from "./modes/produce.ts";
import { query } from "./modes/query.ts";
import { NAMED_QUERIES, PARAMS } from "./query/mod.ts";
import { COMMIT, VERSION } from "./version.ts";
import { shutdownSignal } from "./shutdown.ts";

export const MODES = ["produce", "consume", "catalog", "query"] as const;
export type Mode = (typeof MODES)[number];

const OPTIONS = {
  mode: { type: "string", short: "m" },
  config: { type: "string", short: "c" },
  "log-level": { type: "string" },
  "print-config": { type: "boolean" },
  "max-records": { type: "string" },
  duration: { type: "string" },
  source: { type: "string", multiple: true },
  "until-idle": { type: "boolean" },
  "dry-run": { type: "boolean" },
  compact: { type: "boolean" },
  before: { type: "string" },
  sql: { type: "string" },
  file: { type: "string", short: "f" },
  named: { type: "string" },
  param: { type: "string", multiple: true },
  format: { type: "string" },
  output: { type: "string", short: "o" },
  chart: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Which flags belong to which mode; anything else given with that mode is a usage error. */
const MODE_FLAGS: Record<Mode, readonly string[]> = {
  produce: ["max-records", "duration", "source"],
  consume: ["until-idle"],
  catalog: ["dry-run", "compact", "before"],
  query: ["sql", "file", "named", "param", "format", "output", "chart"],
};

export const HELP = `cryptopipe ${VERSION}: real-time crypto market data → Kafka → data lake → SQL

Usage:
  cryptopipe --mode <produce|consume|catalog|query> [--config PATH] [options]

Modes (one per process; run each under systemd):
  produce   read prices from the configured sources and publish them to Kafka
  consume   read Kafka and write the lake (exactly once, even across crashes; records that
            are not valid go to the errors table, [store] errors_table)
  catalog   register the lake's tables: a local catalog, or AWS Glue with partition
            projection (idempotent; refuses breaking schema changes)
  query     run SQL on the lake and print the result: DuckDB on a local lake, Athena on S3

Common options:
  -c, --config PATH       TOML config (default ./cryptopipe.toml, or $CRYPTOPIPE_CONFIG)
      --log-level LEVEL   debug | info | warn | error (overrides [log] level; debug shows stacks)
      --print-config      print the effective config (secrets redacted) and exit
  -h, --help              this help
  -V, --version           version and commit

produce:
      --max-records N     stop after publishing N records
      --duration D        stop after D (e.g. 30s, 5m, 1h)
      --source NAME       run only this [sources.NAME] (repeatable; default: all)

consume:
      --until-idle        exit 0 once caught up (everything written and committed)

catalog:
      --dry-run           print what would change (tables, columns, properties, partitions)
                          and change nothing; exits 3 like a real run on a breaking change
      --compact           instead of registering: rewrite the small files of finished hours
                          into one Parquet file per (hour, Kafka partition), sorted by symbol
                          and event_time (offsets below the group's committed offset only)
      --before DAY[THH]   with --compact: hours ending by this UTC day or hour
                          (default: today 00:00 UTC, i.e. finished days)

query:
      --sql "SELECT ..."  run this SQL (tables: ticker, ticker_errors, or database.table)
  -f, --file QUERY.sql    run the SQL in this file
      --named NAME        run a named query (the same text on DuckDB and Athena):
${
  Object.entries(NAMED_QUERIES).map(([n, q]) =>
    `                            ${n}: ${q.description}`
  ).join("\n")
}
      --param K=V         a named query's parameter (repeatable), checked by type:
${Object.entries(PARAMS).map(([n, p]) => `                            ${n}: ${p.doc}`).join("\n")}
      --format F          table | csv | json | chart (default [query] format = table);
                          chart draws prices over time in the terminal
  -o, --output FILE       write the result to FILE instead of stdout
      --chart FILE        also draw prices over time into FILE (.svg or .html); the result
                          needs a time column (event_time, ingest_time, or dt and hour)
                          and a price column (close, price, price_usd or vwap)

Config:
  Every key is documented in cryptopipe.example.toml. Any key can be overridden from the
  environment as CRYPTOPIPE_<SECTION>__<KEY>, e.g. CRYPTOPIPE_BUS__BROKERS=10.0.0.5:9092
  (lists are comma-separated). Secrets are never in the TOML or on the command line: name
  their source with <key>_env, <key>_file or <key>_credential (systemd LoadCredential=).

Examples:
  cryptopipe --mode produce --max-records 1000
  cryptopipe --mode consume --until-idle
  cryptopipe --mode catalog --dry-run
  cryptopipe --mode catalog --compact --before 2026-11-20
  cryptopipe --mode query --named latest
  cryptopipe --mode query --named hourly --param symbol=BTC-USD --param from=2026-11-01
  cryptopipe --mode query --named hourly --format chart --chart hourly.svg
  cryptopipe --mode query --sql "SELECT symbol, count(*) FROM ticker GROUP BY 1" --format csv

Exit codes:
${EXIT_CODE_TABLE}
`;

export interface CliIo {
  readonly stdout: (text: string) => Promise<void>;
  readonly stderr: (text: string) => void;
  /** Called on a second Ctrl-C / SIGTERM: stop now. */
  readonly forceExit: () => void;
}

export const denoIo: CliIo = {
  stdout: async (text) => {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
  },
  stderr: (text) => console.error(text),
  forceExit: () => {},
};

/** "30s", "5m", "1h30m", "500ms", or plain seconds. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

interface Parsed {
  readonly mode?: Mode;
  readonly configFlag?: string;
  readonly logLevel?: LogLevel;
  readonly help: boolean;
  readonly version: boolean;
  readonly printConfig: boolean;
  readonly flags: ModeFlags;
}

export function parseCli(args: readonly string[]): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const message = messageOf(error);
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    if (unknown) {
      const hint = closestName(unknown.replace(/^-+/, ""), Object.keys(OPTIONS));
      throw new UsageError(
        `Unknown flag ${unknown}${hint ? `; did you mean --${hint}?` : ""} (see --help)`,
      );
    }
    const positional = /Unexpected argument '([^']+)'/.exec(message)?.[1];
    if (positional) {
      throw new UsageError(
        `Unexpected argument ${
          JSON.stringify(positional)
        }; flags take the form --name value (see --help)`,
      );
    }
    throw new UsageError(`${message.replace(/\.$/, "")} (see --help)`);
  }
  const mode = values.mode;
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) {
    const hint = closestName(mode, MODES);
    throw new UsageError(
      `Unknown mode ${JSON.stringify(mode)} (--mode); use one of ${MODES.join(", ")}${
        hint ? `; did you mean ${hint}?` : ""
      }`,
    );
  }
  const logLevel = values["log-level"];
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(
      `Invalid --log-level ${JSON.stringify(logLevel)}; use one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  if (mode) {
    for (
      const [flag, modes] of Object.entries(MODE_FLAGS).flatMap(([m, fs]) =>
        fs.map((f) => [f, m] as const)
      )
    ) {
      if (flag in values && modes !== mode) {
        throw new UsageError(`--${flag} applies to --mode ${modes} only`);
      }
    }
  }
  let maxRecords: number | undefined;
  if (values["max-records"] !== undefined) {
    maxRecords = Number(values["max-records"]);
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new UsageError(
        `Invalid --max-records ${
          JSON.stringify(values["max-records"])
        }: expected a whole number >= 1`,
      );
    }
  }
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    durationMs = parseDuration(values.duration);
    if (durationMs === undefined || durationMs <= 0) {
      throw new UsageError(
        `Invalid --duration ${JSON.stringify(values.duration)}: expected e.g. 90s, 5m, 1h30m`,
      );
    }
  }
  const format = values.format;
  if (format !== undefined && !["table", "csv", "json", "chart"].includes(format)) {
    throw new UsageError(
      `Invalid --format ${JSON.stringify(format)}; use table, csv, json or chart`,
    );
  }
  return {
    mode: mode as Mode | undefined,
    configFlag: values.config,
    logLevel: logLevel as LogLevel | undefined,
    help: values.help ?? false,
    version: values.version ?? false,
    printConfig: values["print-config"] ?? false,
    flags: {
      maxRecords,
      durationMs,
      sources: values.source,
      untilIdle: values["until-idle"] ?? false,
      dryRun: values["dry-run"] ?? false,
      compact: values.compact ?? false,
      before: values.before,
      sql: values.sql,
      sqlFile: values.file,
      named: values.named,
      params: values.param,
      format: format as ModeFlags["format"],
      output: values.output,
      chart: values.chart,
    },
  };
}

/** Effective config as TOML-ish JSON, secrets redacted (Secret.toJSON). */
function printableConfig(config: LoadedConfig): string {
  return JSON.stringify(config, null, 2) + "\n";
}

export async function runCli(args: readonly string[], io: CliIo = denoIo): Promise<number> {
  let debug = args.includes("debug") && args.some((a) => a.startsWith("--log-level"));
  try {
    const parsed = parseCli(args);
    debug = parsed.logLevel === "debug";
    if (parsed.help) {
      await io.stdout(HELP);
      return EXIT.ok;
    }
    if (parsed.version) {
      await io.stdout(`cryptopipe ${VERSION} (commit ${COMMIT}, deno ${Deno.version.deno})\n`);
      return EXIT.ok;
    }
    const environment = denoConfigEnvironment();
    const config = loadConfig(configPath(parsed.configFlag, environment), environment);
    const level = parsed.logLevel ?? config.log.level;
    debug = level === "debug";
    if (parsed.printConfig) {
      await io.stdout(printableConfig(config));
      return EXIT.ok;
    }
    if (!parsed.mode) {
      throw new UsageError(`Missing --mode; use one of ${MODES.join(", ")} (see --help)`);
    }
    const logger = createLogger(level, config.log.format, { mode: parsed.mode }, io.stderr);
    const shutdown = shutdownSignal(io.forceExit);
    const ctx: ModeContext = {
      config,
      logger,
      signal: shutdown.signal,
      flags: parsed.flags,
      write: io.stdout,
    };
    try {
      switch (parsed.mode) {
        case "produce":
          await produce(ctx);
          break;
        case "consume":
          await consume(ctx);
          break;
        case "catalog":
          await catalog(ctx);
          break;
        case "query":
          await query(ctx);
          break;
      }
    } finally {
      shutdown.dispose();
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CryptopipeError) {
      io.stderr(`error: ${error.message}`);
      if (debug) {
        io.stderr(
          String(error.stack ?? "") +
            (error.cause ? `\ncaused by: ${(error.cause as Error)?.stack ?? error.cause}` : ""),
        );
      }
      return error.exitCode;
    }
    io.stderr(
      `error: unexpected failure: ${messageOf(error)}${
        debug ? "" : " (run with --log-level debug for details)"
      }`,
    );
    if (debug && error instanceof Error) io.stderr(String(error.stack));
    return EXIT.runtime;
  }
}
