/**
 * Long-running CLI children for fault tests: their output is drained as it comes (a full pipe
 * would block the child), kept for assertions, and each one can be signalled, awaited and, in
 * `finally`, reliably ended.
 */
import { cliCommand } from "./helpers.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class CliProcess {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  #stdout = "";
  #stderr = "";
  #drained: Promise<void>;
  #exited = false;
  #stopped = false;

  constructor(readonly name: string, args: string[], env: Record<string, string> = {}) {
    this.child = cliCommand(args, env).spawn();
    this.pid = this.child.pid;
    this.status = this.child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    this.#drained = Promise.all([
      this.#drain(this.child.stdout, (t) => (this.#stdout += t)),
      this.#drain(this.child.stderr, (t) => (this.#stderr += t)),
    ]).then(() => {});
  }

  async #drain(stream: ReadableStream<Uint8Array>, append: (text: string) => void) {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
    } catch { /* the stream was cancelled */ }
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Lines of stderr that match. */
  lines(pattern: RegExp): string[] {
    return this.#stderr.split("\n").filter((l) => pattern.test(l));
  }

  count(pattern: RegExp): number {
    return this.lines(pattern).length;
  }

  /** Wait until stderr has at least `n` lines matching `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs: number, n = 1): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(pattern) < n) {
      if (this.#exited) {
        throw new Error(`${this.name} exited before logging ${pattern}:\n${this.tail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} did not log ${pattern} within ${timeoutMs} ms:\n${this.tail()}`,
        );
      }
      await sleep(50);
    }
  }

  signal(signal: Deno.Signal): void {
    if (this.#exited) return;
    if (signal === "SIGSTOP") this.#stopped = true;
    if (signal === "SIGCONT") this.#stopped = false;
    Deno.kill(this.pid, signal);
  }

  /** Send `signal` and wait for the exit; SIGKILL after `timeoutMs`. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 20_000): Promise<Deno.CommandStatus> {
    if (this.#stopped) this.signal("SIGCONT");
    this.signal(signal);
    const timer = setTimeout(() => this.signal("SIGKILL"), timeoutMs);
    try {
      return await this.finished();
    } finally {
      clearTimeout(timer);
    }
  }

  /** The exit status, once stdout and stderr are read to their end. */
  async finished(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#drained;
    return status;
  }

  /** For `finally`: make sure the child is gone (continued first if it was stopped). */
  async dispose(): Promise<void> {
    if (!this.#exited) {
      try {
        Deno.kill(this.pid, "SIGCONT");
        Deno.kill(this.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await this.finished().catch(() => {});
  }

  tail(lines = 30): string {
    return this.#stderr.trimEnd().split("\n").slice(-lines).join("\n");
  }
}

/** Dispose of every process, whatever state each one is in. */
export async function disposeAll(processes: Iterable<CliProcess>): Promise<void> {
  await Promise.all([...processes].map((p) => p.dispose()));
}
