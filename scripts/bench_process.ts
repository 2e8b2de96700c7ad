/**
 * Child processes for the benchmarks: wall time, CPU (exact, from our own cutime/cstime once
 * the child is reaped) and RSS (VmHWM/VmRSS polled from /proc). Linux only, like the numbers.
 */
import { REPO_ROOT } from "./local_kafka.ts";

// ---------------------------------------------------------------------------------------------

export interface Finished {
  readonly code: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssKb: number;
  /** [ms since start, VmRSS kB] */
  readonly samples: Array<[number, number]>;
  readonly stdout: string;
  readonly stderrTail: string[];
}

export interface Running {
  readonly child: Deno.ChildProcess;
  readonly done: Promise<Finished>;
}

const active = new Set<Deno.ChildProcess>();
const CLOCK_TICKS = 100; // USER_HZ: 100 on every mainstream Linux

/** CPU seconds of all our reaped children so far (kernel cutime + cstime). */
function childrenCpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS; // fields 16, 17 of stat(5)
}

export function procStatusKb(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    return {
      hwm: Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0),
      rss: Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0),
    };
  } catch {
    return undefined; // gone
  }
}

/** Only what a child needs, so a developer's CRYPTOPIPE_* or AWS_* cannot leak in. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

export function startChild(
  cmd: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    stdout?: "null" | "piped";
    sampleMs?: number;
    onLine?: (line: string) => void;
  } = {},
): Running {
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: childEnv(options.env),
    clearEnv: true,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: "piped",
  }).spawn();
  active.add(child);
  let peakRssKb = 0;
  const samples: Array<[number, number]> = [];
  const sample = () => {
    const status = procStatusKb(child.pid);
    if (!status) return;
    peakRssKb = Math.max(peakRssKb, status.hwm, status.rss);
    samples.push([Math.round(performance.now() - started), status.rss]);
  };
  const timer = setInterval(sample, options.sampleMs ?? 100);
  const stderrTail: string[] = [];
  const stderrDone = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        stderrTail.push(line);
        if (stderrTail.length > 200) stderrTail.shift();
        options.onLine?.(line);
      }
    }
    if (pending) stderrTail.push(pending);
  })();
  const stdoutDone = options.stdout === "piped"
    ? new Response(child.stdout).text()
    : Promise.resolve("");
  const done = (async (): Promise<Finished> => {
    const status = await child.status;
    clearInterval(timer);
    active.delete(child);
    const wallSeconds = (performance.now() - started) / 1000;
    await stderrDone.catch(() => {});
    return {
      code: status.code,
      wallSeconds,
      cpuSeconds: childrenCpuSeconds() - cpuBefore,
      peakRssKb,
      samples,
      stdout: await stdoutDone,
      stderrTail,
    };
  })();
  return { child, done };
}

export function failed(what: string, result: Finished): Error {
  return new Error(
    `${what} exited with code ${result.code}; last stderr lines:\n${
      result.stderrTail.slice(-30).join("\n")
    }`,
  );
}

/** Fields of a cryptopipe JSON log line, or undefined for anything else. */
export function logLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Kill every child still running (Ctrl-C, or a failed run). */
export function killChildren(): void {
  for (const child of active) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
