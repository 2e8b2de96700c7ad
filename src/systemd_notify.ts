/**
 * sd_notify for systemd `Type=notify` units, without libsystemd: a Unix datagram to
 * `$NOTIFY_SOCKET` (READY=1, STATUS=…, STOPPING=1, WATCHDOG=1). Outside systemd (no
 * NOTIFY_SOCKET) every call is a no-op, so the modes call it unconditionally.
 *
 * Deno can only send a Unix datagram from a bound socket, so the notifier binds a client socket
 * first: `$RUNTIME_DIRECTORY/notify.sock` (the unit's `RuntimeDirectory=cryptopipe/%i`), else
 * `${XDG_RUNTIME_DIR:-/tmp}/cryptopipe-notify-<mode>.sock`. The Deno permissions this takes
 * are `notifyPermissionFlags()`.
 *
 * Watchdog: with `WatchdogSec=` systemd sets WATCHDOG_USEC; WATCHDOG=1 goes out every half of
 * it. Before READY every tick pets (start-up is bounded by TimeoutStartSec=); after READY a
 * mode that reports liveness (`alive()` from its work loop) is petted only while it did so
 * within the last watchdog interval, so a hung loop gets killed and restarted by systemd.
 */
import { dirname, join } from "node:path";
import { messageOf, RuntimeFailure, UsageError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { within } from "./shutdown.ts";

/** A send stuck on a full systemd queue must not hold the exit. */
const CLOSE_TIMEOUT_MS = 1_000;

export interface NotifierOptions {
  /** The --mode: names the fallback client socket. */
  readonly mode: string;
  /** Whether the mode calls `alive()`; modes that do not are petted while the event loop runs. */
  readonly tracksLiveness?: boolean;
  readonly logger?: Logger;
  /** Environment lookup (tests pass their own). */
  readonly env?: (name: string) => string | undefined;
  /** Clock for the liveness window (tests inject one). */
  readonly now?: () => number;
}

/**
 * An environment variable, or undefined when it is unset or not granted: a narrow
 * `--allow-env` list (the launcher's, per mode) may leave out WATCHDOG_PID or XDG_RUNTIME_DIR.
 */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** `KEY=value` lines as sd_notify expects them; a value never spans lines. */
export function formatNotifyMessage(fields: Readonly<Record<string, string | number>>): string {
  return Object.entries(fields).map(([key, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new Error(`Invalid sd_notify field ${key}`);
    return `${key}=${String(value).replace(/[\r\n]+/g, " ")}`;
  }).join("\n");
}

/** The address to send to: an absolute path, or `@name` for an abstract socket (NUL-prefixed). */
export function notifySocketAddress(value: string): string {
  if (value.startsWith("@")) return "\0" + value.slice(1);
  if (value.startsWith("/")) return value;
  throw new UsageError(
    `NOTIFY_SOCKET=${JSON.stringify(value)} is neither an absolute path nor an @abstract socket`,
  );
}

/** Where the client socket is bound (see the file comment). */
export function clientSocketPath(mode: string, env: (name: string) => string | undefined): string {
  // RUNTIME_DIRECTORY lists every RuntimeDirectory= of the unit, colon-separated.
  const runtime = env("RUNTIME_DIRECTORY")?.split(":")[0];
  if (runtime) return join(runtime, "notify.sock");
  return join(env("XDG_RUNTIME_DIR") || "/tmp", `cryptopipe-notify-${mode}.sock`);
}

/**
 * The Deno flags sd_notify needs (measured with Deno 2.9.6): binding the client socket needs
 * net, read and write on its path; sending needs net and write on NOTIFY_SOCKET. For a launcher
 * that derives narrow permissions; `notifySocket` is $NOTIFY_SOCKET as systemd sets it.
 */
export function notifyPermissionFlags(clientPath: string, notifySocket: string): string[] {
  const needs = notifyPermissionNeeds(clientPath, notifySocket);
  return [
    "--unstable-net",
    `--allow-net=${needs.net.join(",")}`,
    `--allow-read=${needs.read.join(",")}`,
    `--allow-write=${needs.write.join(",")}`,
  ];
}

/** The same needs as lists, for src/permissions.ts to merge into a mode's set. */
export function notifyPermissionNeeds(clientPath: string, notifySocket: string) {
  return {
    net: [`unix:${clientPath}`, `unix:${notifySocket}`],
    read: [clientPath],
    write: [clientPath, notifySocket],
  };
}

/** The watchdog interval in ms from WATCHDOG_USEC, when it is meant for this process. */
export function watchdogMs(env: (name: string) => string | undefined): number | undefined {
  const usec = Number(env("WATCHDOG_USEC"));
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  // As sd_watchdog_enabled(): a WATCHDOG_PID naming another process means "not for us".
  const pid = env("WATCHDOG_PID");
  if (pid && Number(pid) !== Deno.pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000));
}

export class SystemdNotifier {
  readonly #conn: Deno.DatagramConn | undefined;
  readonly #target: string;
  readonly #clientPath: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #tracksLiveness: boolean;
  readonly #watchdogMs: number | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #lastAlive: number;
  #ready = false;
  #stopping = false;
  #closed = false;
  #sendFailed = false;
  #sending: Promise<void> = Promise.resolve();

  private constructor(
    conn: Deno.DatagramConn | undefined,
    target: string,
    clientPath: string | undefined,
    options: NotifierOptions,
    watchdog: number | undefined,
  ) {
    this.#conn = conn;
    this.#target = target;
    this.#clientPath = clientPath;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#tracksLiveness = options.tracksLiveness ?? false;
    this.#watchdogMs = conn ? watchdog : undefined;
    this.#lastAlive = this.#now();
    if (this.#watchdogMs !== undefined) {
      this.#watchdog = setInterval(() => this.#tick(), Math.max(1, this.#watchdogMs / 2));
    }
  }

  /** A notifier for this process: a no-op one when NOTIFY_SOCKET is unset. */
  static async open(options: NotifierOptions): Promise<SystemdNotifier> {
    const env = options.env ?? readEnv;
    const socket = env("NOTIFY_SOCKET");
    if (!socket) return new SystemdNotifier(undefined, "", undefined, options, undefined);
    const target = notifySocketAddress(socket);
    const listen = (Deno as { listenDatagram?: typeof Deno.listenDatagram }).listenDatagram;
    if (typeof listen !== "function") {
      throw new UsageError(
        "NOTIFY_SOCKET is set (systemd Type=notify) but Unix datagram sockets are unavailable: run with --unstable-net",
      );
    }
    const clientPath = clientSocketPath(options.mode, env);
    // A socket file left by a killed run would make the bind fail with AddrInUse.
    await Deno.remove(clientPath).catch(() => {});
    let conn: Deno.DatagramConn;
    try {
      conn = listen({ transport: "unixpacket", path: clientPath });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new UsageError(
          `Cannot bind the sd_notify socket ${clientPath}: not permitted; run with ${
            notifyPermissionFlags(clientPath, socket).join(" ")
          }`,
        );
      }
      throw new RuntimeFailure(
        `Cannot bind the sd_notify socket ${clientPath} (in ${dirname(clientPath)}): ${
          messageOf(error)
        }`,
        { cause: error },
      );
    }
    return new SystemdNotifier(conn, target, clientPath, options, watchdogMs(env));
  }

  /** Whether messages go anywhere (NOTIFY_SOCKET was set). */
  get enabled(): boolean {
    return this.#conn !== undefined;
  }

  /** The watchdog interval systemd asked for, if any. */
  get watchdogIntervalMs(): number | undefined {
    return this.#watchdogMs;
  }

  /**
   * The mode did its first real work: systemd now reports the unit "active (running)". Later
   * calls only update the STATUS line.
   */
  ready(status?: string): void {
    if (this.#stopping) return;
    if (this.#ready) {
      if (status) this.status(status);
      return;
    }
    this.#ready = true;
    this.#lastAlive = this.#now();
    this.#send(formatNotifyMessage(status ? { READY: 1, STATUS: status } : { READY: 1 }));
  }

  /** A line for `systemctl status`. */
  status(text: string): void {
    if (this.#stopping) return;
    this.#send(formatNotifyMessage({ STATUS: text }));
  }

  /** The mode's loop made progress: keeps the watchdog petted. */
  alive(): void {
    this.#lastAlive = this.#now();
  }

  /** Shutdown began (SIGTERM or the end of the work); sent once. */
  stopping(status = "stopping"): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#send(formatNotifyMessage({ STOPPING: 1, STATUS: status }));
  }

  /** Stop the watchdog, deliver what is queued, close and remove the client socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    await within(this.#sending, CLOSE_TIMEOUT_MS);
    if (!this.#conn) return;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    if (this.#clientPath) await Deno.remove(this.#clientPath).catch(() => {});
  }

  #healthy(): boolean {
    if (!this.#ready || !this.#tracksLiveness) return true;
    return this.#now() - this.#lastAlive <= this.#watchdogMs!;
  }

  #tick(): void {
    if (this.#closed) return;
    if (this.#healthy()) {
      this.#send("WATCHDOG=1");
    } else {
      this.#logger?.warn("no progress within the watchdog interval: not petting the watchdog", {
        watchdog_ms: this.#watchdogMs,
        idle_ms: this.#now() - this.#lastAlive,
      });
    }
  }

  #send(text: string): void {
    const conn = this.#conn;
    if (!conn || this.#closed) return;
    const bytes = new TextEncoder().encode(text);
    // In order, one at a time; a failure is logged once and never stops the mode.
    this.#sending = this.#sending.then(() =>
      conn.send(bytes, { transport: "unixpacket", path: this.#target }).then(() => {})
    ).catch((error) => {
      if (this.#sendFailed) return;
      this.#sendFailed = true;
      // Under Type=notify a lost READY fails the start: say so loudly, once.
      this.#logger?.error("sd_notify message not delivered", { error: messageOf(error) });
    });
  }
}
