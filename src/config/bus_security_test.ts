import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { type ConfigEnvironment, parseConfig } from "./mod.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

function env(
  vars: Record<string, string> = {},
  files: Record<string, string> = {},
): ConfigEnvironment {
  return {
    env: (name) => vars[name],
    envEntries: () => Object.entries(vars),
    readTextFile: (path) => {
      if (path in files) return files[path];
      throw new Deno.errors.NotFound(path);
    },
  };
}

function problem(text: string, environment = env()): string {
  try {
    parseConfig(text, "t.toml", environment);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.equal(error.exitCode, 2);
    return error.message;
  }
  assert.fail("expected a ConfigError");
}

const scram = '[bus.sasl]\nmechanism = "scram-sha-512"\nusername = "pipe"\n';

Deno.test("bus security config: [bus.tls] files are read at start-up, the key as a Secret", () => {
  const config = parseConfig(
    '[bus.tls]\nca_file = "/pki/ca.pem"\ncert_file = "/pki/c.pem"\nkey_file = "/pki/c.key"\n' +
      'server_name = "kafka.internal"\nkey_password_env = "CRYPTOPIPE_KEY_PASS"\n',
    "t.toml",
    env({ CRYPTOPIPE_KEY_PASS: "kp" }, {
      "/pki/ca.pem": CA,
      "/pki/c.pem": CA,
      "/pki/c.key": KEY,
    }),
  );
  const tls = config.secrets.busTls!;
  assert.equal(tls.ca, CA);
  assert.equal(tls.cert, CA);
  assert.equal(tls.key?.reveal(), KEY);
  assert.equal(String(tls.key), "[redacted]");
  assert.equal(tls.keyPassword?.reveal(), "kp");
  assert.equal(tls.serverName, "kafka.internal");
  assert.ok(!JSON.stringify(config).includes("PRIVATE KEY"));
});

Deno.test("bus security config: a missing or wrong TLS file is exit 2 naming the key", () => {
  assert.match(
    problem('[bus.tls]\nca_file = "/nope/ca.pem"\n'),
    /bus\.tls\.ca_file: cannot read \/nope\/ca\.pem: not found/,
  );
  assert.match(
    problem('[bus.tls]\nca_file = "/pki/ca.pem"\n', env({}, { "/pki/ca.pem": "hello" })),
    /bus\.tls\.ca_file: \/pki\/ca\.pem holds no PEM certificate/,
  );
  assert.match(
    problem('[bus.tls]\ncert_file = "/c.pem"\n'),
    /bus\.tls\.key_file: cert_file and key_file go together/,
  );
  assert.match(
    problem('[bus.tls]\nkey_password_env = "CRYPTOPIPE_K"\n'),
    /bus\.tls\.key_password_env: only with key_file/,
  );
  assert.match(
    problem(
      '[bus.tls]\ncert_file = "/c.pem"\nkey_file = "/c.key"\n',
      env({}, { "/c.pem": CA, "/c.key": CA }),
    ),
    /bus\.tls\.key_file: \/c\.key holds no PEM private key/,
  );
});

Deno.test("bus security config: no key turns certificate verification off", () => {
  for (const key of ["verify", "insecure", "reject_unauthorized", "skip_verify"]) {
    assert.match(problem(`[bus.tls]\n${key} = false\n`), new RegExp(`bus\\.tls\\.${key}: unknown`));
  }
});

Deno.test("bus security config: every password source works for SCRAM, a literal is exit 2", () => {
  assert.equal(
    parseConfig(scram + 'password_env = "CRYPTOPIPE_PW"', "t", env({ CRYPTOPIPE_PW: "e" }))
      .secrets.busSaslPassword?.reveal(),
    "e",
  );
  assert.equal(
    parseConfig(
      scram + 'password_credential = "kafka-password"',
      "t",
      env({ CREDENTIALS_DIRECTORY: "/run/credentials/cp@a.service" }, {
        "/run/credentials/cp@a.service/kafka-password": "c\n",
      }),
    ).secrets.busSaslPassword?.reveal(),
    "c",
  );
  assert.match(
    problem(scram + 'password = "hunter2"'),
    /bus\.sasl\.password: a literal secret is not allowed/,
  );
});

Deno.test("bus security config: PLAIN and MSK IAM need [bus.tls]", () => {
  const plain = '[bus.sasl]\nmechanism = "plain"\nusername = "u"\npassword_env = "CRYPTOPIPE_PW"\n';
  assert.match(
    problem(plain, env({ CRYPTOPIPE_PW: "x" })),
    /bus\.sasl\.mechanism: "plain" needs TLS/,
  );
  const ok = parseConfig(plain + "[bus.tls]\n", "t", env({ CRYPTOPIPE_PW: "x" }));
  assert.equal(ok.bus.sasl?.mechanism, "plain");
  assert.deepEqual(ok.secrets.busTls, {
    ca: undefined,
    cert: undefined,
    key: undefined,
    keyPassword: undefined,
    serverName: undefined,
  });
  assert.match(
    problem('[bus.sasl]\nmechanism = "aws-msk-iam"\nregion = "eu-west-1"\n'),
    /bus\.sasl\.mechanism: "aws-msk-iam" needs TLS/,
  );
});

Deno.test("bus security config: aws-msk-iam takes a region and no username or password", () => {
  const msk = '[bus.tls]\n[bus.sasl]\nmechanism = "aws-msk-iam"\n';
  const config = parseConfig(msk + 'region = "eu-west-1"\n', "t", env());
  assert.equal(config.bus.sasl?.region, "eu-west-1");
  assert.equal(config.secrets.busSaslPassword, undefined);
  assert.match(problem(msk), /bus\.sasl\.region: required for "aws-msk-iam"/);
  assert.match(
    problem(msk + 'region = "eu-west-1"\npassword_env = "CRYPTOPIPE_PW"\n'),
    /bus\.sasl\.password_env: "aws-msk-iam" signs with the AWS default credential chain/,
  );
  assert.match(problem(msk + 'region = "Ireland"\n'), /bus\.sasl\.region: must be an AWS region/);
  assert.match(
    problem(scram + 'password_env = "CRYPTOPIPE_PW"\nregion = "eu-west-1"\n'),
    /bus\.sasl\.region: only for "aws-msk-iam"/,
  );
  assert.match(
    problem('[bus.sasl]\nmechanism = "scram-sha-256"\npassword_env = "CRYPTOPIPE_PW"\n'),
    /bus\.sasl\.username: required for "scram-sha-256"/,
  );
});
