/**
 * The command line: flags, help, and the one place where errors become exit codes and a
 * single line on stderr (with the stack only at --log-level debug).
 */
import { parseArgs } from "node:util";
import {
  configPath,
  denoConfigEnvironment,
  loadConfig,
  printableConfig,
  redact,
  registerSecretValue,
} from "./config/mod.ts";
import { closestName } from "./config/suggest.ts";
import { CryptopipeError, EXIT, EXIT_CODE_TABLE, messageOf, UsageError } from "./errors.ts";
import {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogFormatSetting,
  type LogLevel,
  resolveLogFormat,
} from "./log.ts";
import { startTelemetry } from "./observe/start.ts";
import { type ModeContext, type ModeFlags, secretScopeOf } from "./modes/context.ts";
import { catalog } from "./modes/catalog.ts";
import { runConsume } from "./modes/consume_actions.ts";
import { produce } from "./modes/produce.ts";
import { query } from "./modes/query.ts";
import { NAMED_QUERIES, PARAMS } from "./query/mod.ts";
import { basePermissions, modePermissions } from "./permissions.ts";
import { COMMIT, VERSION } from "./version.ts";
import { shutdownSignal } from "./shutdown.ts";
import { SystemdNotifier } from "./systemd_notify.ts";

export const MODES = ["produce", "consume", "catalog", "query"] as const;
export type Mode = (typeof MODES)[number];

const OPTIONS = {
  mode: { type: "string", short: "m" },
  config: { type: "string", short: "c" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "print-config": { type: "boolean" },
  "print-permissions": { type: "boolean" },
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
  "reset-offsets": { type: "string" },
  reread: { type: "boolean" },
  partition: { type: "string" },
  "from-offset": { type: "string" },
  "to-offset": { type: "string" },
  "from-time": { type: "string" },
  "to-time": { type: "string" },
  "into-table": { type: "string" },
  expire: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Which flags belong to which mode; anything else given with that mode is a usage error. */
const MODE_FLAGS: Record<Mode, readonly string[]> = {
  produce: ["max-records", "duration", "source"],
  consume: [
    "until-idle",
    "dry-run",
    "reset-offsets",
    "reread",
    "partition",
    "from-offset",
    "to-offset",
    "from-time",
    "to-time",
    "into-table",
  ],
  catalog: ["dry-run", "expire", "compact", "before"],
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
      --log-format F      auto | text | json (overrides [log] format; auto = JSON lines when
                          stderr is not a terminal, text on a terminal)
      --print-config      print the effective config (defaults and overrides applied) as
                          TOML, or JSON with --format json, and exit 0; every secret is
                          shown as [redacted] with its source (e.g. env:NAME)
      --print-permissions print the Deno permission flags this run needs, one per line
                          (the bundle's launcher uses them; README "Build and ship")
  -h, --help              this help
  -V, --version           version and commit

produce:
      --max-records N     stop after publishing N records
      --duration D        stop after D (e.g. 30s, 5m, 1h)
      --source NAME       run only this [sources.NAME] (repeatable; default: all)

consume:
      --until-idle        exit 0 once caught up (everything written and committed)
      --reset-offsets TO  move the group's committed offsets instead of consuming. TO is
                          earliest, latest, an ISO time with a zone (the first offset whose
                          Kafka produce time is at or after it, e.g. 2026-11-24T10:00:00Z),
                          or offsets per partition: 0:1200,2:877 (others keep theirs).
                          Refused (exit 3) while a consume of the group runs: stop it first
      --dry-run           with --reset-offsets: print per partition the committed offset,
                          the new one, the log start and end, and the lag before and after
      --reread            read a bounded range again into a separate table, committing
                          nothing (the group's offsets stay as they are):
      --partition P       the partition(s), e.g. 1 or 0,2 (--reread by offsets: exactly one;
                          also narrows --reset-offsets earliest|latest|time)
      --from-offset A     --reread: first offset, and
      --to-offset B         last offset (inclusive)
      --from-time T1      --reread: Kafka produce times (not event times), from T1
      --to-time T2          (inclusive) to T2 (exclusive), over all partitions or --partition
      --into-table NAME   --reread: write to table NAME (errors to NAME_errors), never to the
                          live tables; offsets it already holds are skipped

catalog:
      --dry-run           print what would change (tables, columns, properties, partitions)
                          and change nothing; exits 3 like a real run on a breaking change
      --compact           instead of registering: rewrite the small files of finished hours
                          into one Parquet file per (hour, Kafka partition), sorted by symbol
                          and event_time (offsets below the group's committed offset only)
      --before DAY[THH]   with --compact: hours ending by this UTC day or hour
                          (default: today 00:00 UTC, i.e. finished days)
      --expire            retention instead of registering: delete dt= partitions older than
                          [store] retention_days (local lake; on S3 use the lifecycle rule in
                          deploy/s3/lifecycle.json); with --dry-run, list them only

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
  cryptopipe --mode consume --reset-offsets 2026-11-24T10:00:00Z --dry-run
  cryptopipe --mode consume --reread --partition 1 --from-offset 1200 --to-offset 1500 \
             --into-table ticker_fix
  cryptopipe --mode catalog --expire --dry-run
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
  readonly logFormat?: LogFormatSetting;
  readonly help: boolean;
  readonly version: boolean;
  readonly printConfig: boolean;
  readonly printPermissions: boolean;
  /** --format as given (with --print-config: toml or json). */
  readonly formatFlag?: string;
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
  const logFormat = values["log-format"];
  if (logFormat !== undefined && !(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new UsageError(
      `Invalid --log-format ${JSON.stringify(logFormat)}; use one of ${LOG_FORMATS.join(", ")}`,
    );
  }
  if (mode) {
    for (const flag of new Set(Object.values(MODE_FLAGS).flat())) {
      // A flag may belong to several modes (--dry-run): only one that fits none is refused.
      const owners = Object.keys(MODE_FLAGS).filter((m) => MODE_FLAGS[m as Mode].includes(flag));
      if (flag in values && !owners.includes(mode)) {
        throw new UsageError(`--${flag} applies to --mode ${owners.join(" or ")} only`);
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
  const printConfig = values["print-config"] ?? false;
  if (
    format !== undefined && !["table", "csv", "json", "chart"].includes(format) &&
    !(printConfig && format === "toml")
  ) {
    throw new UsageError(
      `Invalid --format ${JSON.stringify(format)}; use table, csv, json or chart`,
    );
  }
  return {
    mode: mode as Mode | undefined,
    configFlag: values.config,
    logLevel: logLevel as LogLevel | undefined,
    logFormat: logFormat as LogFormatSetting | undefined,
    help: values.help ?? false,
    version: values.version ?? false,
    printConfig,
    formatFlag: format,
    printPermissions: values["print-permissions"] ?? false,
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
      resetOffsets: values["reset-offsets"],
      reread: values.reread ?? false,
      partitions: values.partition,
      fromOffset: values["from-offset"],
      toOffset: values["to-offset"],
      fromTime: values["from-time"],
      toTime: values["to-time"],
      intoTable: values["into-table"],
      expire: values.expire ?? false,
    },
  };
}

/**
 * The artifact's stamped commit; from a checkout (COMMIT "dev"), git's, when git may run
 * (`deno task cryptopipe` allows it), else "dev".
 */
function checkoutCommit(): string {
  if (COMMIT !== "dev" || Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    return COMMIT;
  }
  try {
    const git = new Deno.Command("git", {
      args: ["rev-parse", "--short=12", "HEAD"],
      cwd: new URL(".", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const commit = new TextDecoder().decode(git.stdout).trim();
    return git.success && commit ? `${commit} (checkout)` : COMMIT;
  } catch {
    return COMMIT;
  }
}

/** AWS credentials of the environment: redacted from output like the config's secrets. */
const AWS_SECRET_VARIABLES = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"];

/**
 * AWS endpoints come from the TOML only, where https is enforced: the SDK would otherwise take
 * AWS_ENDPOINT_URL[_<SERVICE>] from the environment (or endpoint_url from a profile) unchecked,
 * plain http included.
 */
function refuseConfiguredAwsEndpoints(): void {
  const names = Object.keys(Deno.env.toObject()).filter((n) => /^AWS_ENDPOINT_URL(_|$)/.test(n));
  if (names.length > 0) {
    throw new UsageError(
      `${names.join(", ")} is set: cryptopipe takes AWS endpoints only from the config ` +
        `([store] endpoint, [catalog] endpoint, [query] endpoint), where https is checked`,
    );
  }
  // Profiles' endpoint_url too.
  Deno.env.set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
}

export async function runCli(args: readonly string[], cliIo: CliIo = denoIo): Promise<number> {
  for (const name of AWS_SECRET_VARIABLES) registerSecretValue(Deno.env.get(name));
  // Every line to stderr (logs, errors, stacks) passes the redaction: libraries' messages may
  // echo a signed URL, a header or a password.
  const io: CliIo = { ...cliIo, stderr: (text) => cliIo.stderr(redact(text)) };
  let debug = args.includes("debug") && args.some((a) => a.startsWith("--log-level"));
  // Until the config is read: the flag, else the environment override, else auto.
  let errorFormat: LogFormat = earlyLogFormat(args);
  let errorMode: string | undefined;
  try {
    const parsed = parseCli(args);
    debug = parsed.logLevel === "debug";
    errorMode = parsed.mode;
    if (parsed.help || parsed.version) {
      if (parsed.printPermissions) {
        await io.stdout(basePermissions().map((flag) => `${flag}\n`).join(""));
        return EXIT.ok;
      }
      await io.stdout(
        parsed.help
          ? HELP
          : `cryptopipe ${VERSION} (commit ${checkoutCommit()}, deno ${Deno.version.deno})\n`,
      );
      return EXIT.ok;
    }
    refuseConfiguredAwsEndpoints();
    const configWarnings: string[] = [];
    const environment = denoConfigEnvironment(configWarnings);
    const scope = secretScopeOf(parsed.printConfig ? undefined : parsed.mode, parsed.flags);
    const config = loadConfig(configPath(parsed.configFlag, environment), environment, scope);
    if (parsed.printPermissions) {
      if (!parsed.mode && !parsed.printConfig) {
        throw new UsageError(`Missing --mode; use one of ${MODES.join(", ")} (see --help)`);
      }
      const permissions = modePermissions(
        parsed.printConfig ? undefined : parsed.mode,
        config,
        parsed.flags,
        { env: environment.env, cwd: Deno.cwd() },
      );
      await io.stdout(permissions.map((flag) => `${flag}\n`).join(""));
      return EXIT.ok;
    }
    let level = parsed.logLevel ?? config.log.level;
    debug = level === "debug";
    const format = resolveLogFormat(parsed.logFormat ?? config.log.format);
    errorFormat = format;
    if (parsed.printConfig) {
      const printFormat = parsed.formatFlag ?? "toml";
      if (printFormat !== "toml" && printFormat !== "json") {
        throw new UsageError(`--print-config prints toml or json, not ${printFormat} (--format)`);
      }
      for (const warning of configWarnings) io.stderr(`warning: ${warning}`);
      await io.stdout(printableConfig(config, printFormat));
      return EXIT.ok;
    }
    if (!parsed.mode) {
      throw new UsageError(`Missing --mode; use one of ${MODES.join(", ")} (see --help)`);
    }
    const logger = createLogger(() => level, format, {
      mode: parsed.mode,
      component: parsed.mode,
    }, io.stderr);
    for (const warning of configWarnings) logger.warn(`config: ${warning}`);
    // produce and consume say READY themselves after their first real success.
    const long = parsed.mode === "produce" || parsed.mode === "consume";
    const notifier = await SystemdNotifier.open({
      mode: parsed.mode,
      tracksLiveness: long,
      logger: logger.child({ component: "systemd" }),
    });
    const shutdown = shutdownSignal(io.forceExit);
    shutdown.signal.addEventListener("abort", () => notifier.stopping(), { once: true });
    if (!long) notifier.ready();
    // produce and consume: metrics, health and SIGHUP reload (catalog and query are one-shot).
    let telemetry: ReturnType<typeof startTelemetry> | undefined;
    try {
      telemetry = long
        ? startTelemetry(parsed.mode, config, logger.child({ component: "metrics" }), {
          load: () => loadConfig(config.file, environment, scope),
          setLevel: (next) => (level = parsed.logLevel ?? next),
          levelPinned: parsed.logLevel !== undefined,
        })
        : undefined;
    } catch (error) {
      // e.g. the metrics port is taken: nothing of this run may stay open.
      notifier.stopping();
      await notifier.close();
      shutdown.dispose();
      throw error;
    }
    const ctx: ModeContext = {
      config,
      logger,
      signal: shutdown.signal,
      flags: parsed.flags,
      write: io.stdout,
      notifier,
      telemetry: telemetry?.telemetry,
    };
    try {
      switch (parsed.mode) {
        case "produce":
          await produce(ctx);
          break;
        case "consume":
          await runConsume(ctx);
          break;
        case "catalog":
          await catalog(ctx);
          break;
        case "query":
          await query(ctx);
          break;
      }
    } finally {
      notifier.stopping();
      await notifier.close();
      shutdown.dispose();
      await telemetry?.stop();
    }
    return EXIT.ok;
  } catch (error) {
    const { code, message } = failureOf(error, debug);
    if (errorFormat === "json") {
      // One JSON object, like every other line: log shippers parse it too.
      io.stderr(JSON.stringify({
        time: new Date().toISOString(),
        level: "error",
        message,
        mode: errorMode ?? "none",
        component: "cli",
        exit_code: code,
        ...(debug && error instanceof Error ? { stack: String(error.stack) } : {}),
      }));
      return code;
    }
    io.stderr(`error: ${message}`);
    if (debug && error instanceof Error) {
      io.stderr(
        String(error.stack ?? "") +
          (error.cause ? `\ncaused by: ${(error.cause as Error)?.stack ?? error.cause}` : ""),
      );
    }
    return code;
  }
}

/** The exit code and the one line a failure is reported with. */
function failureOf(error: unknown, debug: boolean): { code: number; message: string } {
  if (error instanceof CryptopipeError) return { code: error.exitCode, message: error.message };
  if (error instanceof Deno.errors.NotCapable) {
    // The Deno sandbox refused an action outside this mode's permission set (src/permissions.ts).
    return {
      code: EXIT.auth,
      message: `not permitted: ${
        messageOf(error).split("\n")[0]
      } (this mode's permissions: --print-permissions)`,
    };
  }
  return {
    code: EXIT.runtime,
    message: `unexpected failure: ${messageOf(error).split("\n")[0]}${
      debug ? "" : " (run with --log-level debug for details)"
    }`,
  };
}

/** The log format for a failure before the config is read: --log-format, the env, else auto. */
function earlyLogFormat(args: readonly string[]): LogFormat {
  const index = args.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  const fromFlag = index < 0
    ? undefined
    : args[index].includes("=")
    ? args[index].slice("--log-format=".length)
    : args[index + 1];
  const valid = (text: string | undefined) =>
    (LOG_FORMATS as readonly string[]).includes(text ?? "") ? text as LogFormatSetting : undefined;
  return resolveLogFormat(
    valid(fromFlag) ?? valid(Deno.env.get("CRYPTOPIPE_LOG__FORMAT")) ?? "auto",
  );
}
