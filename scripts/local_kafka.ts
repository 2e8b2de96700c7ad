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

function serverProperties(dir: string, port: number, controllerPort: number): string {
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
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
  await Deno.writeTextFile(properties, serverProperties(dir, port, controllerPort));
  const formatted = await Deno.stat(join(dir, "data", "meta.properties")).then(
    () => true,
    () => false,
  );
  if (!formatted) {
    const clusterId = (await java(["kafka.tools.StorageTool", "random-uuid"])).trim().split("\n")
      .pop()!.trim();
    await java(["kafka.tools.StorageTool", "format", "-t", clusterId, "-c", properties]);
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
