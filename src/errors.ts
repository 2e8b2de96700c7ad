/**
 * Error classes that map one-to-one onto the exit-code table. Every mode throws these;
 * only main.ts turns them into an exit code, so the table stays true everywhere.
 */

export const EXIT = {
  ok: 0,
  usage: 2,
  runtime: 3,
  auth: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table, shown verbatim by `--help` and copied into the README. */
export const EXIT_CODE_TABLE = [
  "  0  success",
  "  2  usage, config or bad parameter (do not restart: fix the config)",
  "  3  runtime failure, e.g. Kafka or the store unreachable after bounded retries",
  "  4  authentication, authorization (AWS AccessDenied, Kafka SASL or ACL) or TLS failure",
].join("\n");

/** Base class: a message meant for the operator, one line, no stack by default. */
export class CryptopipeError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flag, bad config file, bad value: exit 2. */
export class UsageError extends CryptopipeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.usage, options);
  }
}

/** Config problems name the file and the key. */
export class ConfigError extends UsageError {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(
      key === undefined
        ? `Invalid config ${file}: ${problem}`
        : `Invalid config ${file}: ${key}: ${problem}`,
      options,
    );
  }
}

/** Something outside us failed after bounded retries: exit 3. */
export class RuntimeFailure extends CryptopipeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.runtime, options);
  }
}

/** Authentication, authorization or TLS: exit 4. */
export class AuthFailure extends CryptopipeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.auth, options);
  }
}

/** The message of any thrown value, without its stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** AWS error names that mean "your credentials or permissions", whatever the service. */
const AWS_AUTH_ERRORS = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "AllAccessDisabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "TokenRefreshRequired",
  "CredentialsProviderError",
]);

/** An AWS SDK error as one line: auth problems exit 4, everything else 3. */
export function awsFailure(action: string, error: unknown): CryptopipeError {
  const name = (error as { name?: string })?.name ?? "";
  const message = (error as Error)?.message ?? String(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata
    ?.httpStatusCode;
  if (AWS_AUTH_ERRORS.has(name)) {
    return new AuthFailure(`Cannot ${action}: ${name}: ${message}`, { cause: error });
  }
  // A 403 without a readable error (a HEAD has no body; a proxy's or an emulator's XML where
  // the protocol wants JSON) is still a refusal of these credentials, not a failure to retry.
  if (status === 403) {
    const detail = ["", "Error", "Unknown", "SyntaxError", "Forbidden", "403"].includes(name)
      ? "access denied (HTTP 403, no error details in the response)"
      : `${name}: ${message} (HTTP 403)`;
    return new AuthFailure(`Cannot ${action}: ${detail}`, { cause: error });
  }
  return new RuntimeFailure(
    `Cannot ${action}: ${name && name !== "Error" ? `${name}: ` : ""}${message}${
      status ? ` (HTTP ${status})` : ""
    }`,
    { cause: error },
  );
}
