/**
 * Secrets: named in the TOML by source (`<name>_env`, `<name>_file`, `<name>_credential`),
 * read at start-up, and wrapped so that printing, logging or serializing them shows nothing.
 */
import { ConfigError } from "../errors.ts";

export const REDACTED = "[redacted]";

/**
 * Every secret value read by this process (and the AWS keys of its environment): the last line
 * of defence of {@link redact}, for text no pattern recognizes (a library's error echoing what
 * it was given). Values under 4 characters are not searched for: they would blank out ordinary
 * words and are weak secrets anyway.
 */
const knownValues = new Set<string>();
const MIN_KNOWN_LENGTH = 4;

/** Make {@link redact} blank out `value` wherever it appears. */
export function registerSecretValue(value: string | undefined): void {
  if (value === undefined || value.length < MIN_KNOWN_LENGTH) return;
  knownValues.add(value);
  // JSON log lines are redacted after serializing: a value with a quote or a backslash appears
  // there escaped.
  knownValues.add(JSON.stringify(value).slice(1, -1));
}

const SECRET_NAMES =
  "api[_-]?key|apikey|access[_-]?token|session[_-]?token|secret[_-]?access[_-]?key|password|passwd|token|secret";

/** Credentials that libraries may echo in messages, by the shape around them. */
const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Presigned URLs and SigV4 query strings.
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"'<>]+/gi, `$1${REDACTED}`],
  // Headers, as "Name: value", name=value or JSON "name":"value" (value up to the line's end
  // or a quote: an AWS Authorization value contains spaces and commas).
  [
    /((?:authorization|proxy-authorization|x-amz-security-token|x-cg-(?:demo|pro)-api-key|x-api-key|cookie)["']?\s*[:=]\s*["']?)[^"'\r\n]+/gi,
    `$1${REDACTED}`,
  ],
  // Query-string (name=value) and JSON ("name": "value") forms of keys, passwords and tokens;
  // not "name: value", which is how config errors name a key.
  [new RegExp(`((?:${SECRET_NAMES})=)[^&\\s"',;}]+`, "gi"), `$1${REDACTED}`],
  [new RegExp(`("(?:${SECRET_NAMES})"\\s*:\\s*")[^"]*`, "gi"), `$1${REDACTED}`],
  // URLs with credentials: scheme://user:password@host.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:)[^\s@/]+@/gi, `$1${REDACTED}@`],
];

/**
 * Text that may carry a secret (an error message, a log line) with every known secret value and
 * every credential-shaped part replaced by "[redacted]". Applied to every log line and every
 * error printed; cheap enough for that (a few regular expressions).
 */
export function redact(text: string): string {
  let out = text;
  for (const value of knownValues) {
    if (out.includes(value)) out = out.replaceAll(value, REDACTED);
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

export class Secret {
  readonly #value: string;
  /** Where the value came from, e.g. "env:CRYPTOPIPE_KAFKA_PASSWORD" (not secret). */
  readonly origin: string;
  constructor(value: string, origin = "unknown") {
    this.#value = value;
    this.origin = origin;
    registerSecretValue(value);
  }
  /** The only way to the value; grep for it to audit every use. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

export interface SecretEnvironment {
  readonly env: (name: string) => string | undefined;
  readonly readTextFile: (path: string) => string;
  /** Permission bits of a file, or undefined when unknown (then no check). */
  readonly fileMode?: (path: string) => number | undefined;
  /** Told about a problem that does not stop the start (a secret file others can read). */
  readonly warn?: (message: string) => void;
}

/**
 * Resolve `<name>_env|_file|_credential` in `section` (exactly one must be set).
 * `key` is the dotted config path of the section, for error messages.
 */
export function resolveSecret(
  section: Record<string, unknown>,
  name: string,
  key: string,
  configFile: string,
  environment: SecretEnvironment,
): Secret {
  const sources = ["env", "file", "credential"].filter((s) =>
    section[`${name}_${s}`] !== undefined
  );
  if (sources.length !== 1) {
    throw new ConfigError(
      configFile,
      `${key}.${name}`,
      `set exactly one of ${name}_env, ${name}_file or ${name}_credential (found ${sources.length})`,
    );
  }
  const source = sources[0];
  const ref = String(section[`${name}_${source}`]);
  const where = `${key}.${name}_${source}`;
  let value: string | undefined;
  if (source === "env") {
    value = environment.env(ref);
    if (value === undefined) {
      throw new ConfigError(configFile, where, `environment variable ${ref} is not set`);
    }
  } else {
    let path = ref;
    if (source === "credential") {
      const dir = environment.env("CREDENTIALS_DIRECTORY");
      if (!dir) {
        throw new ConfigError(
          configFile,
          where,
          "CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the systemd unit)",
        );
      }
      path = `${dir}/${ref}`;
    }
    // Like ~/.pgpass: a secret file the group or others can read is a leak waiting to happen.
    const mode = source === "file" ? environment.fileMode?.(path) : undefined;
    if (mode !== undefined && (mode & 0o077) !== 0) {
      environment.warn?.(
        `${where}: ${path} is readable by others (mode ${
          (mode & 0o777).toString(8).padStart(3, "0")
        }); restrict it with chmod 600`,
      );
    }
    try {
      value = environment.readTextFile(path).replace(/\r?\n$/, "");
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).name;
      throw new ConfigError(configFile, where, `cannot read ${path}: ${reason}`);
    }
  }
  if (value.length === 0) throw new ConfigError(configFile, where, "the secret is empty");
  return new Secret(value, `${source}:${ref}`);
}

/** What `[bus.tls]` names, read at start-up: a missing file fails before any connection. */
export interface BusTlsMaterial {
  /** PEM text of the CA file, if one is named (else the system's CAs are used). */
  readonly ca?: string;
  readonly cert?: string;
  /** The client key is as secret as a password. */
  readonly key?: Secret;
  readonly keyPassword?: Secret;
  readonly serverName?: string;
}

/** Read the files of `[bus.tls]`; each failure is a ConfigError naming its key. */
export function readBusTls(
  tls: {
    ca_file?: string;
    cert_file?: string;
    key_file?: string;
    server_name?: string;
  } & Record<string, unknown>,
  configFile: string,
  environment: SecretEnvironment,
): BusTlsMaterial {
  const read = (key: "ca_file" | "cert_file" | "key_file", expect: RegExp, what: string) => {
    const path = tls[key];
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = environment.readTextFile(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "not found"
        : error instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : (error as Error).name;
      throw new ConfigError(configFile, `bus.tls.${key}`, `cannot read ${path}: ${reason}`);
    }
    if (!expect.test(text)) {
      throw new ConfigError(configFile, `bus.tls.${key}`, `${path} holds no PEM ${what}`);
    }
    return text;
  };
  const key = read("key_file", /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key");
  const hasKeyPassword = ["env", "file", "credential"].some((s) =>
    tls[`key_password_${s}`] !== undefined
  );
  const material: BusTlsMaterial = {
    ca: read("ca_file", /-----BEGIN CERTIFICATE-----/, "certificate"),
    cert: read("cert_file", /-----BEGIN CERTIFICATE-----/, "certificate"),
    key: key === undefined ? undefined : new Secret(key, `file:${tls.key_file}`),
    keyPassword: hasKeyPassword
      ? resolveSecret(tls, "key_password", "bus.tls", configFile, environment)
      : undefined,
    serverName: tls.server_name,
  };
  // Printed (--print-config) as what was read, not as pages of PEM.
  const pem = (text: string | undefined, file: string) =>
    text === undefined ? undefined : `[PEM read from ${file}]`;
  Object.defineProperty(material, "toJSON", {
    enumerable: false,
    value: () => ({
      ca: pem(material.ca, "ca_file"),
      cert: pem(material.cert, "cert_file"),
      key: material.key,
      keyPassword: material.keyPassword,
      serverName: material.serverName,
    }),
  });
  return material;
}
