/**
 * Config loading: TOML file → literal-secret check → `CRYPTOPIPE_<SECTION>__<KEY>` environment
 * overrides → one schema → resolved secrets. Every failure is a ConfigError naming the file
 * (or the environment variable) and the key.
 */
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import {
  API_KEY_SOURCE_TYPES,
  coerceEnvValue,
  type Config,
  LITERAL_SECRET_KEYS,
  type SaslConfig,
  schemaAt,
  type SchemaIssue,
  shapeKeys,
  SOURCE_TYPES,
  validateConfig,
} from "./schema.ts";
import {
  type BusTlsMaterial,
  readBusTls,
  REDACTED,
  resolveSecret,
  type Secret,
  type SecretEnvironment,
} from "./secrets.ts";
import { closestName } from "./suggest.ts";

/** Keys of earlier builds, and what replaced them (the unit changed too). */
const RENAMED_KEYS: Readonly<Record<string, string>> = {
  "batch.flush_interval_ms": '"max_age_secs" (seconds)',
  "batch.idle_ms": '"until_idle_secs" (seconds)',
};

export { type Config, configSchema, type SourceConfig } from "./schema.ts";
export { redact, registerSecretValue, Secret } from "./secrets.ts";

export const DEFAULT_CONFIG_PATH = "./cryptopipe.toml";
export const ENV_PREFIX = "CRYPTOPIPE_";

/** The config after secrets are read: secrets are Secret objects, never strings. */
export type LoadedConfig = Config & {
  readonly file: string;
  readonly secrets: {
    readonly busSaslPassword?: Secret;
    /** `[bus.tls]` files, read at start-up (the key as a Secret). */
    readonly busTls?: BusTlsMaterial;
    /** API keys of REST sources, by source name (only those that name one). */
    readonly sourceApiKeys: Readonly<Record<string, Secret>>;
  };
};

export interface ConfigEnvironment extends SecretEnvironment {
  readonly envEntries: () => Iterable<[string, string]>;
}

export function denoConfigEnvironment(warnings: string[] = []): ConfigEnvironment {
  return {
    env: (name) => Deno.env.get(name),
    envEntries: () => Object.entries(Deno.env.toObject()),
    readTextFile: (path) => Deno.readTextFileSync(path),
    fileMode: (path) => {
      try {
        return Deno.statSync(path).mode ?? undefined;
      } catch {
        return undefined; // reading it will say what is wrong
      }
    },
    warn: (message) => warnings.push(message),
  };
}

/** `--config`, else CRYPTOPIPE_CONFIG, else ./cryptopipe.toml. */
export function configPath(
  flag: string | undefined,
  environment: Pick<ConfigEnvironment, "env">,
): string {
  return flag ?? environment.env(`${ENV_PREFIX}CONFIG`) ?? DEFAULT_CONFIG_PATH;
}

/**
 * Which secret-bearing sections a run resolves. A mode reads only the secrets it uses, so
 * `query` runs without Kafka's password and consume without the exchanges' API keys.
 */
export interface SecretScope {
  readonly bus: boolean;
  readonly sources: boolean;
}

export const EVERY_SECRET: SecretScope = { bus: true, sources: true };

export function loadConfig(
  file: string,
  environment: ConfigEnvironment = denoConfigEnvironment(),
  scope: SecretScope = EVERY_SECRET,
): LoadedConfig {
  let text: string;
  try {
    text = environment.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found (copy cryptopipe.example.toml to ./cryptopipe.toml, or pass --config PATH)"
      : `cannot read the file (${(error as Error).name})`;
    throw new ConfigError(file, undefined, reason);
  }
  return parseConfig(text, file, environment, scope);
}

export function parseConfig(
  text: string,
  file: string,
  environment: ConfigEnvironment,
  scope: SecretScope = EVERY_SECRET,
): LoadedConfig {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        file,
        undefined,
        `invalid TOML at line ${error.line}, column ${error.column}: ${reason}`,
      );
    }
    throw error;
  }
  rejectLiteralSecrets(raw, [], file);
  const origins = applyEnvOverrides(raw, environment.envEntries());
  const result = validateConfig(raw);
  if (!result.ok) throw issueToError(result.issues, raw, file, origins);
  const config = result.config;
  const secrets: {
    busSaslPassword?: Secret;
    busTls?: BusTlsMaterial;
    sourceApiKeys: Record<string, Secret>;
  } = {
    sourceApiKeys: {},
  };
  for (const [name, source] of Object.entries(scope.sources ? config.sources : {})) {
    const section = source as Record<string, unknown>;
    if (["env", "file", "credential"].some((s) => section[`api_key_${s}`] !== undefined)) {
      secrets.sourceApiKeys[name] = resolveSecret(
        section,
        "api_key",
        `sources.${name}`,
        file,
        environment,
      );
    }
  }
  if (scope.bus && config.bus.sasl && config.bus.sasl.mechanism !== "aws-msk-iam") {
    secrets.busSaslPassword = resolveSecret(
      config.bus.sasl as SaslConfig & Record<string, unknown>,
      "password",
      "bus.sasl",
      file,
      environment,
    );
  }
  if (scope.bus && config.bus.tls) {
    secrets.busTls = readBusTls(config.bus.tls, file, environment);
  }
  return { ...config, file, secrets };
}

function rejectLiteralSecrets(node: unknown, path: string[], file: string): void {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (LITERAL_SECRET_KEYS.has(key)) {
      throw new ConfigError(
        file,
        [...path, key].join("."),
        `a literal secret is not allowed in the config; name its source with ${key}_env (a CRYPTOPIPE_* variable), ${key}_file or ${key}_credential`,
      );
    }
    rejectLiteralSecrets(value, [...path, key], file);
  }
}

/** Apply CRYPTOPIPE_<SECTION>__<KEY>[__<KEY>…] overrides in place; returns path → variable. */
function applyEnvOverrides(
  raw: Record<string, unknown>,
  entries: Iterable<[string, string]>,
): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [name, value] of entries) {
    if (!name.startsWith(ENV_PREFIX) || !name.includes("__")) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split("__");
    if (path.some((p) => p === "")) {
      throw new ConfigError(`environment ${name}`, undefined, "empty key in the name");
    }
    if (LITERAL_SECRET_KEYS.has(path[path.length - 1])) {
      throw new ConfigError(
        `environment ${name}`,
        path.join("."),
        "a literal secret is not allowed; use the _env/_file/_credential form",
      );
    }
    const noApiKey = misplacedApiKey(path, raw);
    if (noApiKey) throw new ConfigError(`environment ${name}`, path.join("."), noApiKey);
    if (!schemaAt(path, raw)) {
      // Suggest a fix for the first part of the name that is not a known key.
      const bad = path.findIndex((_, i) => !schemaAt(path.slice(0, i + 1), raw));
      const hint = closestName(path[bad], shapeKeys(path.slice(0, bad), raw));
      const fixed = hint ? [...path.slice(0, bad), hint, ...path.slice(bad + 1)] : undefined;
      throw new ConfigError(
        `environment ${name}`,
        path.join("."),
        `unknown key${
          fixed ? `; did you mean ${ENV_PREFIX}${fixed.join("__").toUpperCase()}?` : ""
        }`,
      );
    }
    const target = schemaAt(path, raw)!;
    let node = raw as Record<string, unknown>;
    for (const [i, part] of path.slice(0, -1).entries()) {
      if (typeof node[part] !== "object" || node[part] === null) {
        node[part] = {};
        // A table that exists only because of this variable: its problems are the variable's.
        origins.set(path.slice(0, i + 1).join("."), name);
      }
      node = node[part] as Record<string, unknown>;
    }
    const key = path[path.length - 1];
    node[key] = coerceEnvValue(value, target);
    origins.set(path.join("."), name);
  }
  return origins;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? text.slice(0, 57) + "..." : text;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) node = (node as Record<PropertyKey, unknown> | undefined)?.[key];
  return node;
}

/**
 * `sources.<name>.api_key_*` on a known source type that takes no API key: why it is wrong
 * (clearer than "unknown key": the key exists, just not for this provider). Else undefined.
 */
function misplacedApiKey(
  path: readonly string[],
  raw: Record<string, unknown>,
): string | undefined {
  if (path.length !== 3 || path[0] !== "sources") return undefined;
  if (!/^api_key_(env|file|credential)$/.test(path[2])) return undefined;
  const type = (valueAt(raw, path.slice(0, 2)) as Record<string, unknown> | undefined)?.type;
  if (typeof type !== "string" || !SOURCE_TYPES.includes(type)) return undefined;
  if ((API_KEY_SOURCE_TYPES as readonly string[]).includes(type)) return undefined;
  return `${type} takes no API key (only ${API_KEY_SOURCE_TYPES.join(" and ")} do)`;
}

/**
 * A key part as shown in an error: as is when plain, else quoted with escapes (a hostile table
 * name may hold NUL, escape sequences or a newline) and cut to 60 characters.
 */
function printableKeyPart(part: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(part)) return part;
  return JSON.stringify(part.length > 60 ? part.slice(0, 57) + "..." : part);
}

function issueToError(
  issues: readonly SchemaIssue[],
  raw: Record<string, unknown>,
  file: string,
  origins: Map<string, string>,
): ConfigError {
  // Unknown keys first: a typo often also causes a "required" problem elsewhere.
  const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  const more = issues.length > 1
    ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})`
    : "";
  let path = issue.path.map(String);
  let problem: string;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    path = [...path, key];
    const renamed = RENAMED_KEYS[path.join(".")];
    const hint = closestName(key, shapeKeys(issue.path, raw));
    problem = misplacedApiKey(path, raw) ??
      (renamed
        ? `unknown key; it was renamed to ${renamed}`
        : `unknown key${hint ? `; did you mean "${hint}"?` : ""}`);
  } else {
    const value = valueAt(raw, issue.path);
    // Never echo what may be a secret put in the wrong place (e.g. a password in password_env).
    const sensitive = path.some((p) =>
      p === "sasl" || /_(env|file|credential)$/.test(p) || LITERAL_SECRET_KEYS.has(p)
    );
    const got = value === undefined || sensitive ? "" : ` (got ${describeValue(value)})`;
    problem = issue.code === "invalid_type" && value === undefined
      ? "required"
      : `${issue.message.replace(/^Invalid input: /, "")}${got}`;
  }
  const key = path.map(printableKeyPart).join(".");
  let origin: string | undefined;
  for (let n = path.length; n > 0 && origin === undefined; n--) {
    origin = origins.get(path.slice(0, n).join("."));
  }
  return new ConfigError(origin ? `environment ${origin}` : file, key || undefined, problem + more);
}

/** Dotted key → where the secret comes from, e.g. "bus.sasl.password" → "env:CRYPTOPIPE_X". */
export function secretOrigins(config: LoadedConfig): Record<string, string> {
  const origins: Record<string, string> = {};
  if (config.secrets.busSaslPassword) {
    origins["bus.sasl.password"] = config.secrets.busSaslPassword.origin;
  }
  const tls = config.secrets.busTls;
  if (tls?.key) origins["bus.tls.key"] = tls.key.origin;
  if (tls?.keyPassword) origins["bus.tls.key_password"] = tls.keyPassword.origin;
  for (const [name, secret] of Object.entries(config.secrets.sourceApiKeys)) {
    origins[`sources.${name}.api_key`] = secret.origin;
  }
  return origins;
}

/**
 * The effective config (file, environment overrides and defaults) for `--print-config`: TOML
 * that loads again (secrets stay named by source, listed in a comment with a redaction
 * marker), or JSON with a "secrets" object. No secret value can be in it: only the Secret
 * objects hold them, and they are left out.
 */
export function printableConfig(config: LoadedConfig, format: "toml" | "json"): string {
  const { file, secrets: _secrets, ...effective } = config;
  const origins = Object.entries(secretOrigins(config));
  if (format === "json") {
    const secrets = Object.fromEntries(origins.map(([k, o]) => [k, `${REDACTED} (${o})`]));
    return JSON.stringify({ ...effective, secrets }, null, 2) + "\n";
  }
  const header = [
    `# Effective config of ${file}, with defaults and CRYPTOPIPE_* overrides applied.`,
    ...origins.map(([key, origin]) => `# secret ${key} = ${REDACTED} (${origin})`),
  ];
  return `${header.join("\n")}\n\n${stringifyToml(effective)}\n`;
}
