/**
 * README's "permissions per mode" table, generated from src/permissions.ts for a typical
 * production config (tests/permissions_e2e_test.ts checks that the README carries this exact
 * table). Print it: `deno run -A scripts/permission_table.ts`.
 */
import { type ConfigEnvironment, parseConfig } from "../src/config/mod.ts";
import type { ModeFlags } from "../src/modes/context.ts";
import { ENV_NAMES, type PermissionMode, permissionSet } from "../src/permissions.ts";

const LOCAL = `
[bus]
brokers = ["kafka-1.internal:9092", "kafka-2.internal:9092"]
[sources.cb]
type = "coinbase"
symbols = ["BTC-USD"]
[sources.kraken]
type = "kraken_ws"
symbols = ["BTC-USD"]
[sources.gecko]
type = "coingecko"
symbols = ["BTC-USD"]
api_key_credential = "coingecko-key"
[store]
path = "/var/lib/cryptopipe/lake"
`;

const S3 = LOCAL.replace(
  /\[store\][^[]*$/,
  `[store]
type = "s3"
bucket = "my-lake"
region = "eu-west-1"
[catalog]
type = "glue"
region = "eu-west-1"
[query]
engine = "athena"
region = "eu-west-1"
output_location = "s3://my-lake-results/athena/"
`,
);

/** Amazon MSK with IAM auth and a metrics endpoint: what both add (to produce and consume). */
const MSK_METRICS = LOCAL.replace(
  /\[bus\]\nbrokers = .*\n/,
  `[bus]
brokers = ["b-1.msk.eu-west-1.amazonaws.com:9098"]
[bus.tls]
[bus.sasl]
mechanism = "aws-msk-iam"
region = "eu-west-1"
[metrics]
listen = "127.0.0.1:9464"
`,
);

/** A systemd unit's environment: HOME and credentials (sd_notify's sockets are a note). */
const UNIT_ENV: Record<string, string> = {
  HOME: "/var/lib/cryptopipe",
  CREDENTIALS_DIRECTORY: "/run/credentials/cryptopipe@MODE.service",
};

function load(text: string) {
  const environment: ConfigEnvironment = {
    env: (name) => UNIT_ENV[name],
    envEntries: () => [],
    readTextFile: () => "secret",
  };
  return parseConfig(text, "/etc/cryptopipe/cryptopipe.toml", environment);
}

/** Text without layout (line breaks, cell padding, separator widths), as deno fmt may change it. */
export function normalizedTable(markdown: string): string {
  return markdown.replace(/-{3,}/g, "---").replace(/\s*\|\s*/g, "|").replace(/\s+/g, " ").trim();
}

export function permissionTableMarkdown(): string {
  const rows: Array<[string, PermissionMode, string, ModeFlags]> = [
    ["produce", "produce", LOCAL, {}],
    ["consume (local lake)", "consume", LOCAL, {}],
    ["consume (S3)", "consume", S3, {}],
    ["consume (MSK IAM, `[metrics] listen`)", "consume", MSK_METRICS, {}],
    ["catalog (local)", "catalog", LOCAL, {}],
    ["catalog (Glue)", "catalog", S3, {}],
    ["catalog --compact (local)", "catalog", LOCAL, { compact: true }],
    ["catalog --compact (S3)", "catalog", S3, { compact: true }],
    ["query (DuckDB, checkout only)", "query", LOCAL, { output: "/tmp/result.csv" }],
    ["query (Athena)", "query", S3, { output: "/tmp/result.csv" }],
  ];
  const cell = (values: Set<string>) =>
    values.size ? [...values].sort().map((v) => `\`${v}\``).join(", ") : "none";
  const lines = [
    `Every mode: \`--allow-env=${ENV_NAMES.join(",")}\` \`--ignore-env\` \`--unstable-net\`;`,
    `with \`NOTIFY_SOCKET\` set (systemd), also \`--allow-net\` for \`unix:$NOTIFY_SOCKET\` and`,
    `\`unix:$RUNTIME_DIRECTORY/notify.sock\`, read and write on the latter and write on the former`,
    `(sd_notify). Only produce and consume serve \`[metrics] listen\`. The SASL mechanism`,
    `\`aws-msk-iam\` adds the instance metadata service and \`osRelease\` wherever the brokers are`,
    `granted (produce, consume, catalog --compact).`,
    "",
    "| Mode | `--allow-net` | `--allow-read` | `--allow-write` | `--allow-sys` |",
    "|---|---|---|---|---|",
  ];
  for (const [label, mode, text, flags] of rows) {
    const set = permissionSet(mode, load(text), flags, {
      env: (name) => UNIT_ENV[name]?.replace("MODE", mode),
      cwd: "/var/lib/cryptopipe",
    });
    lines.push(
      `| ${label} | ${cell(set.net)} | ${cell(set.read)} | ${cell(set.write)} | ${cell(set.sys)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) console.log(permissionTableMarkdown());
