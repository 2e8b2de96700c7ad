/** Shared helpers for the end-to-end tests: the real broker, the CLI as a subprocess, kcat. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema } from "../src/config/schema.ts";
import type { SecureBrokerInfo } from "../scripts/local_kafka.ts";
import { S3Store } from "../src/store/s3.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const MAIN = join(REPO_ROOT, "main.ts");

/** The broker `deno task test` started. Missing means the tests were run the wrong way: fail. */
export function testBrokers(): string {
  const brokers = Deno.env.get("CRYPTOPIPE_TEST_BROKERS");
  if (!brokers) {
    throw new Error(
      "CRYPTOPIPE_TEST_BROKERS is not set: run the tests with `deno task test`, which starts a Kafka broker",
    );
  }
  return brokers;
}

/** The secured broker `deno task test` started; missing means the tests were run the wrong way. */
export function secureTestBroker(): SecureBrokerInfo {
  const file = Deno.env.get("CRYPTOPIPE_TEST_SECURE_KAFKA");
  if (!file) {
    throw new Error(
      "CRYPTOPIPE_TEST_SECURE_KAFKA is not set: run the tests with `deno task test`, which starts the secured Kafka broker",
    );
  }
  return JSON.parse(Deno.readTextFileSync(file));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment for a child: only what it needs, so a developer's CRYPTOPIPE_* cannot leak in. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  // Text logs, as on a terminal: the tests match log lines; a test of JSON logs passes "json".
  return { ...env, NO_COLOR: "1", CRYPTOPIPE_LOG__FORMAT: "text", ...extra };
}

export function cliCommand(
  args: string[],
  env: Record<string, string> = {},
  cwd = REPO_ROOT,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", join(REPO_ROOT, "deno.json"), MAIN, ...args],
    env: childEnv(env),
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

export async function cli(
  args: string[],
  env: Record<string, string> = {},
  cwd = REPO_ROOT,
): Promise<CliResult> {
  const out = await cliCommand(args, env, cwd).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A temp folder with a config file; `toml` is appended to a header pointing the lake inside. */
export async function workspace(
  toml: string,
): Promise<{ dir: string; config: string; lake: string }> {
  const dir = await Deno.makeTempDir({ prefix: "cryptopipe-test-" });
  const lake = join(dir, "lake");
  const config = join(dir, "cryptopipe.toml");
  await Deno.writeTextFile(config, toml.replaceAll("{lake}", lake));
  return { dir, config, lake };
}

/** Every file under `dir` ending in `extension` (none if `dir` does not exist yet). */
export async function lakeFiles(dir: string, extension = ""): Promise<string[]> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name));
      else if (e.name.endsWith(extension)) files.push(join(d, e.name));
    }
  };
  await walk(dir).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  return files.sort();
}

/** kcat, the independent client: every message of a topic, from the beginning. */
export async function kcatDump(
  brokers: string,
  topic: string,
): Promise<
  Array<{
    partition: number;
    offset: number;
    key: string;
    payload: string;
    /** The Kafka record timestamp (ms). */
    timestamp: number;
    /** Headers as kcat prints them: `name=value,name=value`. */
    headers: string;
  }>
> {
  const out = await new Deno.Command("kcat", {
    args: [
      "-C",
      "-b",
      brokers,
      "-t",
      topic,
      "-o",
      "beginning",
      "-e",
      "-q",
      "-f",
      "%p\t%o\t%T\t%k\t%h\t%s\n",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`kcat failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").map((line) => {
    // JSON escapes tabs, so the payload (last) holds none of its own.
    const [p, o, t, key, headers, ...payload] = line.split("\t");
    return {
      partition: Number(p),
      offset: Number(o),
      timestamp: Number(t),
      key,
      headers,
      payload: payload.join("\t"),
    };
  });
}

/** The JSON messages of a topic with their keys (kcat), for produce tests. */
export async function publishedJson(
  topic: string,
): Promise<
  Array<{ key: string; value: Record<string, unknown>; timestamp: number; headers: string }>
> {
  return (await kcatDump(testBrokers(), topic)).map((m) => ({
    key: m.key,
    value: JSON.parse(m.payload),
    timestamp: m.timestamp,
    headers: m.headers,
  }));
}

/** kcat produce: lines of `key\tvalue` into a topic (for poison records cryptopipe would never write). */
export async function kcatProduce(brokers: string, topic: string, lines: string[]): Promise<void> {
  const child = new Deno.Command("kcat", {
    args: ["-P", "-b", brokers, "-t", topic, "-K", "\t"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`kcat -P failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Query the lake through the CLI (DuckDB) as JSON rows. */
export async function queryLake(config: string, sql: string): Promise<Record<string, unknown>[]> {
  const result = await cli([
    "--mode",
    "query",
    "--config",
    config,
    "--sql",
    sql,
    "--format",
    "json",
  ]);
  if (result.code !== 0) throw new Error(`query failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Base config for a test: its own topic and group on the test broker, a lake in its folder. */
export function baseToml(topic: string, group: string, extra = ""): string {
  return `
[bus]
brokers = ["${testBrokers()}"]
topic = "${topic}"
group_id = "${group}"
session_timeout_ms = 6000

[bus.retry]
retries = 3

[store]
path = "{lake}"
${extra}`;
}

/** What a child needs to reach moto: fixed fake keys, never a developer's real ones. */
export const AWS_TEST_ENV = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
};

/** The moto_server `deno task test` started. */
export function testS3Endpoint(): string {
  const url = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!url) {
    throw new Error(
      "CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run the tests with `deno task test`, which starts moto_server",
    );
  }
  return url;
}

/** A fresh bucket on moto (a plain unsigned PUT: moto does not check signatures). */
export async function freshBucket(): Promise<string> {
  const bucket = `lake-${crypto.randomUUID().slice(0, 12)}`;
  const response = await fetch(`${testS3Endpoint()}/${bucket}`, { method: "PUT" });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`create bucket ${bucket}: HTTP ${response.status}`);
  return bucket;
}

/** An S3 store straight on moto (no proxy), for reading the lake back in tests. */
export function testS3Store(bucket: string, prefix = ""): S3Store {
  return new S3Store(
    configSchema.parse({
      store: {
        type: "s3",
        bucket,
        prefix,
        region: "us-east-1",
        endpoint: testS3Endpoint(),
        force_path_style: true,
      },
    }).store,
  );
}
