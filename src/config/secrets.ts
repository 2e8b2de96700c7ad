/**
 * Secrets: named in the TOML by source (`<name>_env`, `<name>_file`, `<name>_credential`),
 * read at start-up, and wrapped so that printing, logging or serializing them shows nothing.
 */
import { ConfigError } from "../errors.ts";

const REDACTED = "[redacted]";

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
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
}

export interface SecretEnvironment {
  readonly env: (name: string) => string | undefined;
  readonly readTextFile: (path: string) => string;
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
    try {
      value = environment.readTextFile(path).replace(/\r?\n$/, "");
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).name;
      throw new ConfigError(configFile, where, `cannot read ${path}: ${reason}`);
    }
  }
  if (value.length === 0) throw new ConfigError(configFile, where, "the secret is empty");
  return new Secret(value);
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
    key: key === undefined ? undefined : new Secret(key),
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
