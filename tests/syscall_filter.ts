/**
 * Runs a command under the seccomp filter that the units' `SystemCallFilter=` lines describe,
 * without a live systemd: the allowed set comes from `systemd-analyze syscall-filter` (the same
 * groups systemd resolves), is loaded through libseccomp with EPERM for everything else
 * (as `SystemCallErrorNumber=EPERM`), and the filter is inherited by the spawned command.
 *
 *   deno run --allow-all tests/syscall_filter.ts '@system-service ~@privileged ~@resources' -- cmd args…
 *
 * It runs as its own process because a seccomp filter can never be removed from the process that
 * loaded it. Linux x86_64/aarch64 with libseccomp.so.2 only.
 */

/** Every group of `systemd-analyze syscall-filter`, each with its system calls and group references. */
async function syscallGroups(): Promise<Map<string, string[]>> {
  const out = await new Deno.Command("systemd-analyze", {
    args: ["syscall-filter"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (/^@\S+$/.test(line)) groups.set(line, current = []);
    else if (current && /^\s+[@a-z0-9_-]+$/.test(line)) current.push(line.trim());
  }
  return groups;
}

function expand(name: string, groups: Map<string, string[]>, into = new Set<string>()) {
  if (!name.startsWith("@")) {
    into.add(name);
    return into;
  }
  const members = groups.get(name);
  if (!members) throw new Error(`unknown system call group ${name}`);
  for (const member of members) expand(member, groups, into);
  return into;
}

/** The system calls a `SystemCallFilter=` list allows: its groups minus the `~` ones. */
export async function allowedSyscalls(filter: string): Promise<Set<string>> {
  const groups = await syscallGroups();
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const word of filter.split(/\s+/).filter(Boolean)) {
    if (word.startsWith("~")) expand(word.slice(1), groups, denied);
    else expand(word, groups, allowed);
  }
  for (const name of denied) allowed.delete(name);
  return allowed;
}

const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_ERRNO_EPERM = 0x00050000 | 1;

function loadFilter(allowed: Set<string>): void {
  const lib = Deno.dlopen("libseccomp.so.2", {
    seccomp_init: { parameters: ["u32"], result: "pointer" },
    seccomp_syscall_resolve_name: { parameters: ["buffer"], result: "i32" },
    seccomp_rule_add: { parameters: ["pointer", "u32", "i32", "u32"], result: "i32" },
    seccomp_load: { parameters: ["pointer"], result: "i32" },
    seccomp_release: { parameters: ["pointer"], result: "void" },
  });
  const ctx = lib.symbols.seccomp_init(SCMP_ACT_ERRNO_EPERM);
  if (!ctx) throw new Error("seccomp_init failed");
  for (const name of allowed) {
    const nr = lib.symbols.seccomp_syscall_resolve_name(new TextEncoder().encode(name + "\0"));
    if (nr < 0) continue; // not a system call on this architecture
    const rc = lib.symbols.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc !== 0 && rc !== -17 /* EEXIST */) throw new Error(`seccomp_rule_add ${name}: ${rc}`);
  }
  const rc = lib.symbols.seccomp_load(ctx);
  lib.symbols.seccomp_release(ctx);
  if (rc !== 0) throw new Error(`seccomp_load failed: ${rc}`);
}

if (import.meta.main) {
  const [filter, dashes, command, ...args] = Deno.args;
  if (dashes !== "--" || !command) {
    console.error("usage: syscall_filter.ts '<SystemCallFilter= words>' -- command [args…]");
    Deno.exit(2);
  }
  const allowed = await allowedSyscalls(filter);
  loadFilter(allowed);
  const child = new Deno.Command(command, { args, stdin: "inherit" }).spawn();
  const forward = () => child.kill("SIGTERM");
  Deno.addSignalListener("SIGTERM", forward);
  const status = await child.status;
  Deno.removeSignalListener("SIGTERM", forward);
  Deno.exit(status.signal ? 128 + (status.signal === "SIGTERM" ? 15 : 9) : status.code);
}
