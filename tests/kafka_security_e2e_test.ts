/**
 * Kafka security end to end, on the secured broker `deno task test` starts (SASL_SSL with
 * PLAIN/SCRAM/OAUTHBEARER, SSL with client certificates required; a throwaway PKI): the CLI as
 * users run it produces and consumes over TLS + SASL or mTLS, kcat checks the topic on its own
 * over SASL_SSL, the lake is read back; bad credentials and certificates fail fast, clearly.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createKafkaBus } from "../src/bus/kafka.ts";
import { parseConfig } from "../src/config/mod.ts";
import { createLogger } from "../src/log.ts";
import { cli, secureTestBroker as secureBroker, uniqueName, workspace } from "./helpers.ts";

/** kcat over SASL_SSL + SCRAM-SHA-512: the topic as an independent client sees it. */
async function kcatSecureDump(
  topic: string,
): Promise<Array<{ partition: number; offset: number; payload: string }>> {
  const broker = secureBroker();
  const out = await new Deno.Command("kcat", {
    args: [
      "-C",
      "-b",
      broker.saslSsl,
      "-X",
      "security.protocol=SASL_SSL",
      "-X",
      "sasl.mechanisms=SCRAM-SHA-512",
      "-X",
      `sasl.username=${broker.username}`,
      "-X",
      `sasl.password=${broker.password}`,
      "-X",
      `ssl.ca.location=${broker.pki.caCert}`,
      "-t",
      topic,
      "-o",
      "beginning",
      "-e",
      "-q",
      "-f",
      "%p\t%o\t%s\n",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`kcat failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").map((line) => {
    const [p, o, ...payload] = line.split("\t");
    return { partition: Number(p), offset: Number(o), payload: payload.join("\t") };
  });
}

/** A config on the secured broker: `bus` holds the [bus] extras and the security tables. */
function secureToml(topic: string, brokers: string, security: string): string {
  return `
[sources.sim]
type = "simulated"
symbols = ["BTC-USD", "ETH-USD"]
rate_per_second = 100000

[bus]
brokers = ["${brokers}"]
topic = "${topic}"
group_id = "${uniqueName("group")}"
session_timeout_ms = 6000

[bus.retry]
retries = 3

${security}

[batch]
max_age_secs = 1
until_idle_secs = 1.5

[store]
path = "{lake}"
`;
}

function scramToml(mechanism: string, passwordSource: string, caFile: string): string {
  return `[bus.sasl]
mechanism = "${mechanism}"
username = "${secureBroker().username}"
${passwordSource}

[bus.tls]
ca_file = "${caFile}"`;
}

/** Produce K records, check them with kcat over SASL_SSL, consume, and compare with the lake. */
async function produceConsumeRoundTrip(
  config: string,
  topic: string,
  env: Record<string, string>,
  K: number,
  secrets: readonly string[] = [],
): Promise<void> {
  const produced = await cli(
    ["--mode", "produce", "--config", config, "--max-records", String(K), "--log-level", "debug"],
    env,
  );
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stderr, /ssl=true/, "kafkajs's debug log is in the output");
  for (const secret of [...secrets, "PRIVATE KEY"]) {
    assert.ok(!produced.stderr.includes(secret), "no secret in the debug log");
  }
  const inTopic = await kcatSecureDump(topic);
  assert.equal(inTopic.length, K, "kcat (SASL_SSL) sees exactly K records in the topic");

  const consumed = await cli(["--mode", "consume", "--config", config, "--until-idle"], env);
  assert.equal(consumed.code, 0, consumed.stderr);
  const cataloged = await cli(["--mode", "catalog", "--config", config], env);
  assert.equal(cataloged.code, 0, cataloged.stderr);
  const queried = await cli([
    "--mode",
    "query",
    "--config",
    config,
    "--format",
    "json",
    "--sql",
    "SELECT _kafka_partition AS p, _kafka_offset AS o, symbol, price, event_time FROM ticker",
  ], env);
  assert.equal(queried.code, 0, queried.stderr);
  const rows: Record<string, unknown>[] = JSON.parse(queried.stdout);
  assert.equal(rows.length, K);
  const lake = new Map(rows.map((r) => [`${r.p}:${r.o}`, r]));
  for (const message of inTopic) {
    const row = lake.get(`${message.partition}:${message.offset}`);
    assert.ok(row, `record ${message.partition}:${message.offset} is in the lake`);
    const payload = JSON.parse(message.payload);
    assert.equal(row.symbol, payload.symbol);
    assert.equal(row.price, payload.price);
    assert.equal(row.event_time, payload.event_time);
  }
}

Deno.test("kafka security e2e: produce → consume over TLS + SCRAM-SHA-512 (password from env); the lake holds what kcat reads", async () => {
  const broker = secureBroker();
  const topic = uniqueName("sec-scram512");
  const { config } = await workspace(secureToml(
    topic,
    broker.saslSsl,
    scramToml("scram-sha-512", 'password_env = "CRYPTOPIPE_KAFKA_PASSWORD"', broker.pki.caCert),
  ));
  await produceConsumeRoundTrip(
    config,
    topic,
    { CRYPTOPIPE_KAFKA_PASSWORD: broker.password },
    500,
    [broker.password],
  );
});

Deno.test("kafka security e2e: produce → consume over TLS + SCRAM-SHA-256 (password from a file)", async () => {
  const broker = secureBroker();
  const topic = uniqueName("sec-scram256");
  const { config, dir } = await workspace(secureToml(
    topic,
    broker.saslSsl,
    scramToml("scram-sha-256", 'password_file = "{dir}/kafka-password"', broker.pki.caCert),
  ));
  await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replace("{dir}", dir));
  await Deno.writeTextFile(join(dir, "kafka-password"), `${broker.password}\n`, { mode: 0o600 });
  await produceConsumeRoundTrip(config, topic, {}, 200);
});

Deno.test("kafka security e2e: produce → consume over mutual TLS (encrypted client key, passphrase from a systemd credential, server_name)", async () => {
  const broker = secureBroker();
  const topic = uniqueName("sec-mtls");
  const credentials = await Deno.makeTempDir({ prefix: "cryptopipe-credentials-" });
  await Deno.writeTextFile(join(credentials, "kafka-key-password"), broker.pki.clientKeyPassword);
  const { config } = await workspace(secureToml(
    topic,
    broker.mtls,
    `[bus.tls]
ca_file = "${broker.pki.caCert}"
cert_file = "${broker.pki.clientCert}"
key_file = "${broker.pki.clientKeyEncrypted}"
key_password_credential = "kafka-key-password"
server_name = "localhost"`,
  ));
  await produceConsumeRoundTrip(config, topic, { CREDENTIALS_DIRECTORY: credentials }, 200, [
    broker.pki.clientKeyPassword,
  ]);
});

Deno.test("kafka security e2e: PLAIN over TLS, password from a systemd credential", async () => {
  const broker = secureBroker();
  const topic = uniqueName("sec-plain");
  const credentials = await Deno.makeTempDir({ prefix: "cryptopipe-credentials-" });
  await Deno.writeTextFile(join(credentials, "kafka-password"), broker.password);
  const { config } = await workspace(secureToml(
    topic,
    broker.saslSsl,
    scramToml("plain", 'password_credential = "kafka-password"', broker.pki.caCert),
  ));
  const produced = await cli(
    ["--mode", "produce", "--config", config, "--max-records", "50"],
    { CREDENTIALS_DIRECTORY: credentials },
  );
  assert.equal(produced.code, 0, produced.stderr);
  assert.equal((await kcatSecureDump(topic)).length, 50);
});

/** One line on stderr, naming the cause; no stack trace. */
function assertOneClearLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, stderr);
  assert.match(errors[0], pattern);
  assert.ok(!/^\s+at /m.test(stderr), `no stack trace:\n${stderr}`);
}

async function failsFast(
  config: string,
  env: Record<string, string>,
  code: number,
  pattern: RegExp,
): Promise<void> {
  for (const args of [["--mode", "produce", "--max-records", "10"], ["--mode", "consume"]]) {
    const started = Date.now();
    const result = await cli([...args, "--config", config], env);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, code, `${args[1]}: ${result.stderr}`);
    assert.ok(seconds < 15, `${args[1]} took ${seconds.toFixed(1)} s`);
    assertOneClearLine(result.stderr, pattern);
  }
}

Deno.test("kafka security e2e: a wrong password → exit 4 within 15 s, one line, no stack trace", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(
    uniqueName("sec-badpw"),
    broker.saslSsl,
    scramToml("scram-sha-512", 'password_env = "CRYPTOPIPE_KAFKA_PASSWORD"', broker.pki.caCert),
  ));
  await failsFast(
    config,
    { CRYPTOPIPE_KAFKA_PASSWORD: "not-the-password" },
    4,
    /Cannot connect to Kafka at 127\.0\.0\.1:\d+: .*authentication failed.*invalid credentials/i,
  );
});

Deno.test("kafka security e2e: a broker certificate from an untrusted CA → exit 4 within 15 s", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(
    uniqueName("sec-untrusted"),
    broker.saslSsl,
    scramToml(
      "scram-sha-512",
      'password_env = "CRYPTOPIPE_KAFKA_PASSWORD"',
      broker.pki.otherCaCert,
    ),
  ));
  await failsFast(
    config,
    { CRYPTOPIPE_KAFKA_PASSWORD: broker.password },
    4,
    /TLS certificate of the broker at 127\.0\.0\.1:\d+ does not verify: self-signed certificate in certificate chain/,
  );
});

Deno.test("kafka security e2e: a server_name the broker certificate does not carry → exit 4", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(
    uniqueName("sec-name"),
    broker.saslSsl,
    scramToml(
      "scram-sha-512",
      'password_env = "CRYPTOPIPE_KAFKA_PASSWORD"',
      broker.pki.caCert,
    ) + '\nserver_name = "kafka.example.com"',
  ));
  const result = await cli(
    ["--mode", "produce", "--max-records", "1", "--config", config],
    { CRYPTOPIPE_KAFKA_PASSWORD: broker.password },
  );
  assert.equal(result.code, 4, result.stderr);
  assertOneClearLine(result.stderr, /does not verify: .*kafka\.example\.com/);
});

Deno.test("kafka security e2e: a plaintext client against the TLS listener → exit 4 within 15 s, suggesting [bus.tls]", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(uniqueName("sec-plaintext"), broker.saslSsl, ""));
  await failsFast(
    config,
    {},
    4,
    /speaks TLS, but this client connects in plaintext \(add a \[bus\.tls\] section\)/,
  );
});

Deno.test("kafka security e2e: no client certificate on the mutual-TLS listener → exit 4 within 15 s", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(
    uniqueName("sec-nocert"),
    broker.mtls,
    `[bus.tls]\nca_file = "${broker.pki.caCert}"`,
  ));
  await failsFast(config, {}, 4, /refused the TLS handshake: .*cert_file and key_file/);
});

Deno.test("kafka security e2e: a literal password or a missing CA file → exit 2 naming the key", async () => {
  const broker = secureBroker();
  const literal = await workspace(secureToml(
    uniqueName("sec-literal"),
    broker.saslSsl,
    scramToml("scram-sha-512", `password = "${broker.password}"`, broker.pki.caCert),
  ));
  const missing = await workspace(secureToml(
    uniqueName("sec-noca"),
    broker.saslSsl,
    scramToml("scram-sha-512", 'password_env = "CRYPTOPIPE_KAFKA_PASSWORD"', "/nonexistent/ca.pem"),
  ));
  const env = { CRYPTOPIPE_KAFKA_PASSWORD: broker.password };
  const a = await cli(["--mode", "produce", "--config", literal.config], env);
  assert.equal(a.code, 2, a.stderr);
  assertOneClearLine(a.stderr, /bus\.sasl\.password: a literal secret is not allowed/);
  assert.ok(!a.stderr.includes(broker.password), "the literal is not echoed");
  const b = await cli(["--mode", "consume", "--config", missing.config], env);
  assert.equal(b.code, 2, b.stderr);
  assertOneClearLine(b.stderr, /bus\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem: not found/);
});

/** An unsigned JWT, which the test broker's OAUTHBEARER listener (unsecured validator) takes. */
function unsecuredJwt(subject: string): string {
  const b64 = (value: unknown) =>
    btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none" })}.${b64({ sub: subject, iat: now, exp: now + 900 })}.`;
}

Deno.test("kafka security e2e: aws-msk-iam wiring (stub signer) authenticates over SASL/OAUTHBEARER on the real broker; the token is never logged", async () => {
  const broker = secureBroker();
  const topic = uniqueName("sec-msk");
  const config = parseConfig(
    `[bus]
brokers = ["${broker.saslSsl}"]
topic = "${topic}"
[bus.retry]
retries = 2
[bus.sasl]
mechanism = "aws-msk-iam"
region = "eu-west-1"
[bus.tls]
ca_file = "${broker.pki.caCert}"
`,
    "msk.toml",
    {
      env: () => undefined,
      envEntries: () => [],
      readTextFile: (path) => Deno.readTextFileSync(path),
    },
  );
  const token = unsecuredJwt("msk-stub-signer");
  const regions: string[] = [];
  let signedBeforeExpiry = 0;
  const lines: string[] = [];
  const logger = createLogger("debug", "json", {}, (line) => lines.push(line));
  const bus = createKafkaBus(config, logger, {
    mskSigner: ({ region }) => {
      regions.push(region);
      return Promise.resolve({ token, expiryTime: Date.now() + 900_000 });
    },
  });
  try {
    await bus.ensureTopics([topic]);
    const publisher = await bus.publisher();
    try {
      await publisher.send(topic, [{ key: "BTC-USD", value: '{"via":"oauthbearer"}' }]);
      // The test listener ends OAUTHBEARER sessions after 13 s (connections.max.reauth.ms), as
      // MSK does at its token expiry; kafkajs re-authenticates 10 s early, so the send after 3.5 s
      // re-authenticates, with a new token.
      signedBeforeExpiry = regions.length;
      await new Promise((r) => setTimeout(r, 3500));
      await publisher.send(topic, [{ key: "BTC-USD", value: '{"via":"reauthenticated"}' }]);
    } finally {
      await publisher.close();
    }
  } finally {
    await bus.close();
  }
  assert.ok(regions.length >= 1 && regions.every((r) => r === "eu-west-1"), String(regions));
  assert.ok(
    regions.length > signedBeforeExpiry,
    `a token was signed again after the session lifetime (${signedBeforeExpiry} then ${regions.length})`,
  );
  const inTopic = await kcatSecureDump(topic);
  assert.deepEqual(inTopic.map((m) => m.payload).sort(), [
    '{"via":"oauthbearer"}',
    '{"via":"reauthenticated"}',
  ]);
  assert.ok(lines.length > 0);
  assert.ok(lines.every((line) => !line.includes(token)), "the token is never logged");
});

Deno.test("kafka security e2e: aws-msk-iam with no AWS credentials anywhere → exit 4 within 15 s naming the region", async () => {
  const broker = secureBroker();
  const { config } = await workspace(secureToml(
    uniqueName("sec-msk-nocreds"),
    broker.saslSsl,
    `[bus.sasl]
mechanism = "aws-msk-iam"
region = "eu-west-1"

[bus.tls]
ca_file = "${broker.pki.caCert}"`,
  ));
  // The real signer and default chain, with every source of credentials empty or off.
  await failsFast(
    config,
    {
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
      AWS_CONFIG_FILE: "/nonexistent/config",
    },
    4,
    /Cannot sign an Amazon MSK IAM token for region eu-west-1: .*AWS default chain/,
  );
});
