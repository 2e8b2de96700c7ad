/**
 * Each mode's least set of Deno permissions, derived in one place from the mode, the loaded
 * config, the mode's flags and a few environment variables. The bundle's launcher asks for it
 * (`--print-permissions`), the compiled binary bakes the union of all four modes (scripts/build.ts),
 * and the README's table is checked against it (tests/permissions_e2e_test.ts).
 */
import { isAbsolute, join, resolve } from "node:path";
import type { LoadedConfig, SecretScope } from "./config/mod.ts";
import { UsageError } from "./errors.ts";
import { type ModeFlags, secretScopeOf } from "./modes/context.ts";
import { sourceUrl } from "./source/mod.ts";
import { clientSocketPath, notifyPermissionNeeds } from "./systemd_notify.ts";

export type PermissionMode = "produce" | "consume" | "catalog" | "query";

/**
 * Environment variables any mode may read: our own overrides and secrets, the AWS SDK's
 * configuration, kafkajs's, and systemd's (sd_notify, watchdog, credentials, runtime dir).
 * `--ignore-env` makes every other name read as unset instead of failing, which both libraries
 * and `Deno.env.toObject()` (the config's override scan) need.
 */
export const ENV_NAMES: readonly string[] = [
  "CRYPTOPIPE_*",
  "AWS_*",
  "HOME",
  "NODE_ENV",
  "KAFKAJS_*",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "CREDENTIALS_DIRECTORY",
  "RUNTIME_DIRECTORY",
  "XDG_RUNTIME_DIR",
];

/** The EC2 instance metadata service: AWS credentials from the instance role. */
export const IMDS_HOST = "169.254.169.254";

/**
 * What the launcher grants the short `--print-permissions` run: read (config, secret files it
 * must resolve, and the working folder), our environment names, and nothing else: no network,
 * no writes, no subprocesses.
 */
export const PRINT_PERMISSIONS_FLAGS: readonly string[] = [
  "--allow-read",
  `--allow-env=${ENV_NAMES.join(",")}`,
  "--ignore-env",
];

export interface PermissionEnvironment {
  readonly env: (name: string) => string | undefined;
  /** Relative paths in the config and flags resolve against this (the process's cwd). */
  readonly cwd: string;
}

/** One mode's permissions, as sets so that the union of modes is a plain merge. */
export interface PermissionSet {
  readonly net: Set<string>;
  readonly read: Set<string>;
  readonly write: Set<string>;
  readonly sys: Set<string>;
}

const emptySet = (): PermissionSet => ({
  net: new Set(),
  read: new Set(),
  write: new Set(),
  sys: new Set(),
});

/** `https://host:port/path` → `host:port` (the default port spelled out). */
export function urlNetHost(url: string): string {
  const parsed = new URL(url);
  const defaults: Record<string, string> = {
    "https:": "443",
    "wss:": "443",
    "http:": "80",
    "ws:": "80",
  };
  return `${parsed.hostname}:${parsed.port || defaults[parsed.protocol]}`;
}

function region(configured: string | undefined, environment: PermissionEnvironment) {
  return configured ?? environment.env("AWS_REGION") ?? environment.env("AWS_DEFAULT_REGION");
}

/**
 * AWS service hosts: the configured endpoint, else `<service>.<region>.amazonaws.com`; without
 * a known region, any `*.amazonaws.com` host (set the region for the narrow set). Plus the
 * instance metadata service, where EC2 instance roles get their credentials.
 */
function awsHosts(
  service: string,
  endpoint: string | undefined,
  regionName: string | undefined,
): string[] {
  if (endpoint) return [urlNetHost(endpoint)];
  return [regionName ? `${service}.${regionName}.amazonaws.com` : "*.amazonaws.com", IMDS_HOST];
}

/** S3 hosts for one bucket: path-style and virtual-hosted URLs. */
function s3Hosts(
  bucket: string | undefined,
  endpoint: string | undefined,
  regionName: string | undefined,
  forcePathStyle: boolean,
): string[] {
  if (endpoint) {
    const host = urlNetHost(endpoint);
    return forcePathStyle || !bucket ? [host] : [host, `${bucket}.${host}`];
  }
  if (!regionName) return ["*.amazonaws.com", IMDS_HOST];
  return [
    `s3.${regionName}.amazonaws.com`,
    ...(bucket ? [`${bucket}.s3.${regionName}.amazonaws.com`] : []),
    IMDS_HOST,
  ];
}

/**
 * Files the config names: every `*_file` key (secrets, and files such as TLS certificates) and,
 * for every `*_credential` key, the systemd credentials folder. Found by key name anywhere in
 * the config, so a new section's files are covered without a change here.
 */
function configFiles(
  config: LoadedConfig,
  scope: SecretScope,
  environment: PermissionEnvironment,
): string[] {
  const paths: string[] = [];
  const visit = (node: unknown) => {
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key.endsWith("_file") && typeof value === "string") paths.push(value);
      else if (key.endsWith("_credential") && typeof value === "string") {
        // systemd sets CREDENTIALS_DIRECTORY per unit; without it (a baked binary) grant the root.
        const directory = environment.env("CREDENTIALS_DIRECTORY");
        paths.push(directory ? join(directory, value) : "/run/credentials");
      } else if (key !== "secrets") visit(value);
    }
  };
  // Only the sections whose secrets this mode reads (src/modes/context.ts secretScopeOf).
  const { bus, sources, ...rest } = config;
  visit(rest);
  if (scope.bus) visit(bus);
  if (scope.sources) visit(sources);
  return paths;
}

/** `[metrics] listen = "host:port"`: the /metrics and /health endpoint of produce and consume. */
function metricsListen(config: LoadedConfig): string[] {
  return config.metrics.listen ? [config.metrics.listen] : [];
}

/** sd_notify's two Unix sockets (ops.md §4), when systemd asked for notifications. */
function addNotifySockets(set: PermissionSet, mode: string, environment: PermissionEnvironment) {
  const notifySocket = environment.env("NOTIFY_SOCKET");
  if (!notifySocket) return;
  const needs = notifyPermissionNeeds(clientSocketPath(mode, environment.env), notifySocket);
  needs.net.forEach((s) => set.net.add(s));
  needs.read.forEach((p) => set.read.add(p));
  needs.write.forEach((p) => set.write.add(p));
}

/** One mode's needs, before they become flags (no mode: just reading the config, for --print-config). */
export function permissionSet(
  mode: PermissionMode | undefined,
  config: LoadedConfig,
  flags: ModeFlags,
  environment: PermissionEnvironment,
): PermissionSet {
  const set = emptySet();
  const abs = (path: string) => isAbsolute(path) ? path : resolve(environment.cwd, path);
  const brokers = config.bus.brokers;
  const lake = abs(config.store.path);
  const store = config.store;
  const storeS3 = () =>
    s3Hosts(
      store.bucket,
      store.endpoint,
      region(store.region, environment),
      store.force_path_style,
    );
  const addAws = (hosts: string[]) => {
    hosts.forEach((h) => set.net.add(h));
    // The SDK's User-Agent reads the OS release; without HOME it asks for the user id.
    set.sys.add("osRelease");
    if (!environment.env("HOME")) set.sys.add("uid");
  };

  /**
   * The brokers, and with `bus.sasl.mechanism = "aws-msk-iam"` what signing a token with the
   * AWS default chain needs: the instance metadata service (the instance role) and the OS
   * release the SDK's credential providers read.
   */
  const addBus = () => {
    brokers.forEach((b) => set.net.add(b));
    if (config.bus.sasl?.mechanism === "aws-msk-iam") addAws([IMDS_HOST]);
  };
  /** Only produce and consume serve `[metrics] listen`. */
  const addMetrics = () => metricsListen(config).forEach((h) => set.net.add(h));

  set.read.add(abs(config.file));
  configFiles(config, secretScopeOf(mode, flags), environment).forEach((p) => set.read.add(abs(p)));
  if (mode) addNotifySockets(set, mode, environment);

  switch (mode) {
    case "produce": {
      addBus();
      addMetrics();
      const selected = flags.sources?.length
        ? Object.entries(config.sources).filter(([name]) => flags.sources!.includes(name))
        : Object.entries(config.sources);
      for (const [, source] of selected) {
        const url = sourceUrl(source);
        if (url) set.net.add(urlNetHost(url));
        if (source.type === "replay") set.read.add(abs(source.path));
      }
      break;
    }
    case "consume":
      addBus();
      addMetrics();
      if (store.type === "local") {
        set.read.add(lake);
        set.write.add(lake);
      } else addAws(storeS3());
      break;
    case "catalog": {
      // --compact reads the consumer group's committed offsets and rewrites lake files.
      const compact = flags.compact === true;
      if (compact) addBus();
      const hosts: string[] = [];
      if (config.catalog.type === "glue") {
        hosts.push(
          ...awsHosts("glue", config.catalog.endpoint, region(config.catalog.region, environment)),
        );
      }
      if (store.type === "s3" && (config.catalog.type === "glue" || compact)) {
        hosts.push(...storeS3());
      }
      if (hosts.length > 0) addAws(hosts);
      if (store.type === "local") {
        set.read.add(lake);
        set.write.add(lake);
      }
      break;
    }
    case "query":
      if (config.query.engine === "duckdb") {
        set.read.add(lake);
      } else {
        // Athena reads the lake and writes results itself; we only call its API.
        addAws(awsHosts("athena", config.query.endpoint, region(config.query.region, environment)));
      }
      if (flags.sqlFile !== undefined) set.read.add(abs(flags.sqlFile));
      if (flags.output !== undefined) set.write.add(abs(flags.output));
      if (flags.chart !== undefined) set.write.add(abs(flags.chart));
      break;
  }
  return set;
}

/** What any run needs, --help and --version too: the bundle's modules read the environment. */
export function basePermissions(): string[] {
  return permissionFlags(emptySet());
}

/** Merge sets (the compiled binary's union of modes). */
export function unionOf(sets: readonly PermissionSet[]): PermissionSet {
  const union = emptySet();
  for (const set of sets) {
    for (const kind of ["net", "read", "write", "sys"] as const) {
      set[kind].forEach((v) => union[kind].add(v));
    }
  }
  return union;
}

/**
 * Deno flags for a set. Deno splits allow lists on commas, so a path with a comma (or a line
 * break, which would split the launcher's list) cannot be granted: a usage error says so.
 */
export function permissionFlags(set: PermissionSet): string[] {
  const list = (kind: string, values: Set<string>) => {
    for (const value of values) {
      if (/[,\n\r]/.test(value)) {
        throw new UsageError(
          `Cannot grant ${kind} access to ${
            JSON.stringify(value)
          }: Deno permission lists cannot hold a comma or line break; rename the path`,
        );
      }
    }
    return [...values].sort().join(",");
  };
  const flags = [`--allow-env=${ENV_NAMES.join(",")}`, "--ignore-env", "--unstable-net"];
  if (set.net.size) flags.push(`--allow-net=${list("network", set.net)}`);
  if (set.read.size) flags.push(`--allow-read=${list("read", set.read)}`);
  if (set.write.size) flags.push(`--allow-write=${list("write", set.write)}`);
  if (set.sys.size) flags.push(`--allow-sys=${list("system information", set.sys)}`);
  return flags;
}

/** The one entry point: a mode's Deno permission flags. */
export function modePermissions(
  mode: PermissionMode | undefined,
  config: LoadedConfig,
  flags: ModeFlags,
  environment: PermissionEnvironment,
): string[] {
  return permissionFlags(permissionSet(mode, config, flags, environment));
}
