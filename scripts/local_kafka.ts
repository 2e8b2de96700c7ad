/**
 * A real single-node Apache Kafka (KRaft) on 127.0.0.1, for the demo and the tests.
 * Jars come from Maven Central via Maven into the git-ignored .cache/ (Kafka is not in Debian).
 *
 *   deno task kafka:start [--port 9092]   start (or reuse) the demo broker, wait until ready
 *   deno task kafka:stop                  stop it by its PID
 *   deno run -A scripts/local_kafka.ts status   say whether it runs
 *   deno run -A scripts/local_kafka.ts jars     only fetch the jars (CI)
 *
 * Recipe: docs local-stack.md §3 (verified with Kafka 3.9.1 and 4.1.1 on Java 17).
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const KAFKA_VERSION = "3.9.1";
const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(SCRIPT_DIR, "..");
const CACHE = join(REPO_ROOT, ".cache", "kafka", KAFKA_VERSION);
export const LIB_DIR = join(CACHE, "lib");
const DEMO_DIR = join(REPO_ROOT, ".cache", "kafka", "demo");

export class SetupError extends Error {}

async function run(
  cmd: string,
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<Deno.CommandOutput> {
  try {
    return await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new SetupError(`${cmd} is not installed`);
    throw error;
  }
}

const INSTALL_HINTS: Record<string, string> = {
  java: "Java 17+ is needed for the local Kafka broker: apt-get install -y openjdk-17-jre-headless",
  mvn: "Maven is needed to fetch the Kafka jars from Maven Central: apt-get install -y maven",
  kcat: "kcat is needed to check the broker and for tests: apt-get install -y kcat",
  openssl: "openssl makes the secured test broker's certificates: apt-get install -y openssl",
  moto_server: "moto_server emulates S3 for the tests: pip install 'moto[server]==5.2.1'",
};

/** Fail with one clear line per missing tool; never skip. */
export async function preflight(tools: readonly string[] = ["java", "mvn", "kcat"]): Promise<void> {
  const missing: string[] = [];
  for (const tool of tools) {
    const args = tool === "kcat"
      ? ["-V"]
      : tool === "mvn"
      ? ["-v"]
      : tool === "moto_server"
      ? ["--help"]
      : tool === "openssl"
      ? ["version"]
      : ["-version"];
    try {
      const out = await run(tool, args);
      if (tool === "moto_server" && !out.success) throw new Error("moto_server does not run");
      if (tool === "java") {
        const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
        const major = Number(/version "(\d+)/.exec(text)?.[1] ?? 0);
        if (major < 17) missing.push(`${INSTALL_HINTS.java} (found Java ${major || "unknown"})`);
      }
    } catch {
      missing.push(INSTALL_HINTS[tool]);
    }
  }
  if (missing.length > 0) throw new SetupError(missing.join("\n"));
}

/** Resolve the broker jars into .cache/kafka/<version>/lib (once). */
export async function ensureJars(log: (line: string) => void = console.error): Promise<string> {
  try {
    const entries = [...Deno.readDirSync(LIB_DIR)].filter((e) => e.name.endsWith(".jar"));
    if (entries.some((e) => e.name.startsWith("kafka_2.13-"))) return LIB_DIR;
  } catch { /* not there yet */ }
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${LIB_DIR} ...`);
  const out = await run("mvn", [
    "-q",
    "-B",
    "-f",
    join(SCRIPT_DIR, "kafka", "pom.xml"),
    `-Dkafka.version=${KAFKA_VERSION}`,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${LIB_DIR}`,
  ]);
  if (!out.success) {
    throw new SetupError(
      `mvn could not fetch the Kafka jars:\n${new TextDecoder().decode(out.stdout)}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return LIB_DIR;
}

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function serverProperties(
  dir: string,
  port: number,
  controllerPort: number,
  secure?: SecureListeners,
): string {
  const listeners = secure
    ? `SECURE://127.0.0.1:${secure.saslSslPort},MTLS://127.0.0.1:${secure.mtlsPort},`
    : "";
  const protocols = secure ? "SECURE:SASL_SSL,MTLS:SSL," : "";
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=${listeners}PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=${listeners}PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    `listener.security.protocol.map=${protocols}PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    ...(secure ? secureProperties(secure) : []),
    `log.dirs=${join(dir, "data")}`,
    "num.partitions=3",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=3",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    // Crash tests use 1.5 s sessions so a killed member's partitions move on quickly.
    "group.min.session.timeout.ms=1000",
    // A broker restarted after kill -9 waits out its own old controller session: keep it short.
    "broker.session.timeout.ms=2000",
    "broker.heartbeat.interval.ms=500",
    "",
  ].join("\n");
}

/**
 * The secured test broker's client-facing listeners (docs local-stack.md §3.1a): SASL_SSL with
 * PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (unsecured JWTs), and SSL with client
 * certificates required (mTLS).
 * The PLAINTEXT listener stays for the broker itself and for readiness checks; clients under
 * test never get its address.
 */
export interface SecureListeners {
  readonly saslSslPort: number;
  readonly mtlsPort: number;
  /** Folder of the throwaway PKI (see `makeTestPki`). */
  readonly pki: TestPki;
}

/** The user every SASL mechanism of the secured broker accepts, and its password. */
export const SECURE_USER = { username: "pipe", password: "pipe-secret-42" } as const;

function secureProperties(secure: SecureListeners): string[] {
  const { pki } = secure;
  const plainJaas =
    `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SECURE_USER.username}="${SECURE_USER.password}";`;
  return [
    "inter.broker.listener.name=PLAINTEXT",
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
    "listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
    // OAUTHBEARER with Kafka's built-in unsecured validator (unsigned JWTs): the stand-in for
    // Amazon MSK IAM's token check, so the token provider's wiring is tested on a real broker.
    // Short OAUTHBEARER sessions (KIP-368), so tests see the client sign a fresh token; longer
    // than kafkajs's reauthenticationThreshold (10 s), which re-authenticates 10 s early.
    "listener.name.secure.oauthbearer.connections.max.reauth.ms=13000",
    'listener.name.secure.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";',
    `listener.name.secure.plain.sasl.jaas.config=${plainJaas}`,
    "listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "ssl.keystore.type=PKCS12",
    `ssl.keystore.location=${pki.brokerKeystore}`,
    `ssl.keystore.password=${pki.keystorePassword}`,
    `ssl.key.password=${pki.keystorePassword}`,
    // PEM trust store (KIP-651): the test CA, which signs the client certificates for mTLS.
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${pki.caCert}`,
    "listener.name.mtls.ssl.client.auth=required",
  ];
}

/** A throwaway CA with a broker certificate and a client certificate, plus an unrelated CA. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  /** A second CA that signed nothing the broker uses: "untrusted certificate" tests trust it. */
  readonly otherCaCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** The same client key, encrypted (PKCS#8) with `clientKeyPassword`. */
  readonly clientKeyEncrypted: string;
  readonly clientKeyPassword: string;
  readonly brokerKeystore: string;
  readonly keystorePassword: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await run("openssl", args, { cwd });
  if (!out.success) {
    throw new SetupError(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** Certificates for the secured broker, made with openssl in `dir` (2 days valid). */
export async function makeTestPki(dir: string): Promise<TestPki> {
  await Deno.mkdir(dir, { recursive: true });
  const days = ["-days", "2"];
  const pki: TestPki = {
    dir,
    caCert: join(dir, "ca.pem"),
    otherCaCert: join(dir, "other-ca.pem"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
    clientKeyEncrypted: join(dir, "client-encrypted.key"),
    clientKeyPassword: "client-key-pass",
    brokerKeystore: join(dir, "broker.p12"),
    keystorePassword: "broker-keystore-pass",
  };
  const newCa = (name: string, cn: string) =>
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      ...days,
      "-subj",
      `/CN=${cn}`,
    ], dir);
  await newCa("ca", "cryptopipe test CA");
  await newCa("other-ca", "cryptopipe untrusted test CA");
  await Deno.writeTextFile(
    join(dir, "broker.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await Deno.writeTextFile(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, cn] of [["broker", "localhost"], ["client", "cryptopipe-client"]]) {
    await openssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ], dir);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      ...days,
      "-extfile",
      `${name}.ext`,
    ], dir);
  }
  await openssl([
    "pkcs8",
    "-topk8",
    "-in",
    "client.key",
    "-out",
    "client-encrypted.key",
    "-passout",
    `pass:${pki.clientKeyPassword}`,
  ], dir);
  await openssl([
    "pkcs12",
    "-export",
    "-in",
    "broker.pem",
    "-inkey",
    "broker.key",
    "-certfile",
    "ca.pem",
    "-out",
    "broker.p12",
    "-passout",
    `pass:${pki.keystorePassword}`,
  ], dir);
  return pki;
}

export interface Broker {
  readonly bootstrap: string;
  readonly pid: number;
  readonly dir: string;
  stop(signal?: Deno.Signal): Promise<void>;
}

async function java(args: string[]): Promise<string> {
  const out = await run("java", ["-cp", `${LIB_DIR}/*`, ...args]);
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new SetupError(`java ${args[0]} failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Wait until kcat sees the broker's metadata (the port opens a little before that). */
async function waitReady(
  bootstrap: string,
  pid: number,
  logFile: string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) {
      const log = await Deno.readTextFile(logFile).catch(() => "");
      throw new SetupError(
        `the Kafka broker exited during start-up; last log lines:\n${
          log.split("\n").slice(-20).join("\n")
        }`,
      );
    }
    const out = await run("kcat", ["-L", "-b", bootstrap, "-m", "2"]);
    if (out.success && new TextDecoder().decode(out.stdout).includes("1 brokers")) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new SetupError(
    `the Kafka broker at ${bootstrap} was not ready after ${timeoutMs / 1000}s (log: ${logFile})`,
  );
}

export function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** A PID from a file may have been reused by another program since: check it is a broker. */
function isKafkaBroker(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("kafka.Kafka");
  } catch {
    return processAlive(pid); // no /proc (macOS): the PID check is all there is
  }
}

/**
 * Start a broker in `dir` (formatted on first use, reused after that) and wait until ready.
 * Ports default to free ones, so parallel test runs do not collide.
 */
export async function startBroker(
  dir: string,
  options: {
    port?: number;
    controllerPort?: number;
    heapMb?: number;
    log?: (line: string) => void;
    /** Also open the secured listeners (TLS + SASL, mTLS) of docs local-stack.md §3.1a. */
    secure?: SecureListeners;
  } = {},
): Promise<Broker> {
  const log = options.log ?? console.error;
  await ensureJars(log);
  await Deno.mkdir(dir, { recursive: true });
  const port = options.port ?? freePort();
  const controllerPort = options.controllerPort ?? freePort();
  if (await portOpen(port)) {
    throw new SetupError(
      `port 127.0.0.1:${port} is already in use; to use a broker that runs there, set CRYPTOPIPE_BUS__BROKERS=127.0.0.1:${port}`,
    );
  }
  const properties = join(dir, "server.properties");
  await Deno.writeTextFile(
    properties,
    serverProperties(dir, port, controllerPort, options.secure),
  );
  const formatted = await Deno.stat(join(dir, "data", "meta.properties")).then(
    () => true,
    () => false,
  );
  if (!formatted) {
    const clusterId = (await java(["kafka.tools.StorageTool", "random-uuid"])).trim().split("\n")
      .pop()!.trim();
    // SCRAM users of a KRaft cluster are created when its storage is formatted.
    const scram = options.secure
      ? ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((mechanism) => [
        "--add-scram",
        `${mechanism}=[name=${SECURE_USER.username},password=${SECURE_USER.password}]`,
      ])
      : [];
    await java(["kafka.tools.StorageTool", "format", "-t", clusterId, "-c", properties, ...scram]);
  }
  const logFile = join(dir, "broker.log");
  const javaArgs = [
    `-Xmx${options.heapMb ?? 768}m`,
    `-Dlog4j.configuration=file:${join(SCRIPT_DIR, "kafka", "log4j.properties")}`,
    `-Dkafka.logs.dir=${dir}`,
    "-cp",
    `${LIB_DIR}/*`,
    "kafka.Kafka",
    properties,
  ];
  // `exec` through sh so the PID is the broker's own and its output goes straight to a file,
  // which lets the broker outlive `deno task kafka:start`.
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec java "$@" >>"$CRYPTOPIPE_BROKER_LOG" 2>&1', "java", ...javaArgs],
    env: { CRYPTOPIPE_BROKER_LOG: logFile },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  const bootstrap = `127.0.0.1:${port}`;
  await Deno.writeTextFile(join(dir, "broker.pid"), `${child.pid}\n${bootstrap}\n`);
  const started = Date.now();
  await waitReady(bootstrap, child.pid, logFile);
  log(
    `Kafka ${KAFKA_VERSION} ready at ${bootstrap} in ${
      ((Date.now() - started) / 1000).toFixed(1)
    }s (pid ${child.pid}, log ${logFile})`,
  );
  return {
    bootstrap,
    pid: child.pid,
    dir,
    stop: (signal: Deno.Signal = "SIGTERM") => stopPid(child.pid, signal),
  };
}

/** What the tests need to reach the secured broker; written to `<dir>/secure.json`. */
export interface SecureBrokerInfo {
  /** SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER with unsigned JWTs). */
  readonly saslSsl: string;
  /** SSL listener that requires a client certificate. */
  readonly mtls: string;
  /** Plaintext listener, for the tests' own checks (kcat), never for the client under test. */
  readonly plaintext: string;
  readonly username: string;
  readonly password: string;
  readonly pki: TestPki;
}

/**
 * A broker with the secured listeners of docs local-stack.md §3.1a and a fresh throwaway PKI,
 * for `deno task test`. Its description goes to `<dir>/secure.json`.
 */
export async function startSecureBroker(
  dir: string,
  options: { heapMb?: number; log?: (line: string) => void } = {},
): Promise<Broker & { info: SecureBrokerInfo; infoFile: string }> {
  const pki = await makeTestPki(join(dir, "pki"));
  const secure = { saslSslPort: freePort(), mtlsPort: freePort(), pki };
  const broker = await startBroker(join(dir, "broker"), { ...options, secure });
  const info: SecureBrokerInfo = {
    saslSsl: `127.0.0.1:${secure.saslSslPort}`,
    mtls: `127.0.0.1:${secure.mtlsPort}`,
    plaintext: broker.bootstrap,
    ...SECURE_USER,
    pki,
  };
  const infoFile = join(dir, "secure.json");
  await Deno.writeTextFile(infoFile, JSON.stringify(info, null, 2));
  return { ...broker, info, infoFile };
}

export async function stopPid(
  pid: number,
  signal: Deno.Signal = "SIGTERM",
  timeoutMs = 30_000,
): Promise<void> {
  try {
    Deno.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) Deno.kill(pid, "SIGKILL");
}

/** The demo broker's PID file: "<pid>\n<bootstrap>\n". */
export async function demoBroker(): Promise<{ pid: number; bootstrap: string } | undefined> {
  try {
    const [pid, bootstrap] = (await Deno.readTextFile(join(DEMO_DIR, "broker.pid"))).trim().split(
      "\n",
    );
    if (processAlive(Number(pid)) && isKafkaBroker(Number(pid))) {
      return { pid: Number(pid), bootstrap };
    }
  } catch { /* no PID file */ }
  return undefined;
}

export async function startDemoBroker(
  port = 9092,
): Promise<{ bootstrap: string; startedHere: boolean }> {
  const running = await demoBroker();
  if (running) return { bootstrap: running.bootstrap, startedHere: false };
  await preflight();
  const broker = await startBroker(DEMO_DIR, { port, controllerPort: port + 1 });
  return { bootstrap: broker.bootstrap, startedHere: true };
}

export async function stopDemoBroker(): Promise<boolean> {
  const running = await demoBroker();
  if (!running) return false;
  await stopPid(running.pid);
  return true;
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { port: { type: "string", default: "9092" } },
  });
  try {
    switch (positionals[0]) {
      case "start": {
        const { bootstrap, startedHere } = await startDemoBroker(Number(values.port));
        console.error(
          startedHere ? `started Kafka at ${bootstrap}` : `Kafka already running at ${bootstrap}`,
        );
        break;
      }
      case "stop":
        console.error(
          (await stopDemoBroker()) ? "stopped the local Kafka" : "the local Kafka is not running",
        );
        break;
      case "jars":
        await preflight(["java", "mvn"]);
        console.error(`Kafka ${KAFKA_VERSION} jars in ${await ensureJars()}`);
        break;
      case "status": {
        const running = await demoBroker();
        console.error(
          running ? `running at ${running.bootstrap} (pid ${running.pid})` : "not running",
        );
        break;
      }
      default:
        console.error(
          "usage: deno run -A scripts/local_kafka.ts start [--port 9092] | stop | status | jars",
        );
        Deno.exit(2);
    }
  } catch (error) {
    console.error(`error: ${error instanceof SetupError ? error.message : (error as Error).stack}`);
    Deno.exit(error instanceof SetupError ? 2 : 3);
  }
}
