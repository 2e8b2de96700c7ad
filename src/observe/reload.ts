/**
 * SIGHUP: read the config file again and apply what can change safely while running. What
 * else changed is named in one line as needing a restart; a config that does not load leaves
 * the running one in place (the error is logged, the process keeps going).
 */
import type { LoadedConfig } from "../config/mod.ts";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Keys a running produce or consume applies on SIGHUP; every other key needs a restart. */
export const RELOADABLE_KEYS = [
  "log.level",
  "metrics.source_stale_secs",
  "metrics.sink_stale_secs",
] as const;

/** Dotted keys whose values differ (secrets compare by where they come from, never by value). */
export function changedKeys(before: LoadedConfig, after: LoadedConfig): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

function flatten(config: LoadedConfig): Map<string, string> {
  const { file: _file, secrets: _secrets, ...rest } = config;
  const out = new Map<string, string>();
  const walk = (node: unknown, path: string[]) => {
    if (typeof node === "object" && node !== null && !Array.isArray(node)) {
      for (const [key, value] of Object.entries(node)) walk(value, [...path, key]);
      return;
    }
    if (node !== undefined) out.set(path.join("."), JSON.stringify(node));
  };
  walk(rest, []);
  return out;
}

export interface ReloadOptions {
  readonly load: () => LoadedConfig;
  readonly initial: LoadedConfig;
  /** Apply the reloadable part of a new config. */
  readonly apply: (config: LoadedConfig) => void;
  readonly logger: Logger;
  /** Keys pinned by a flag (e.g. log.level by --log-level): noted, not applied. */
  readonly pinned?: ReadonlySet<string>;
}

/** One reload; returns the config now in force. Never throws. */
export function reloadConfig(current: LoadedConfig, options: ReloadOptions): LoadedConfig {
  let next: LoadedConfig;
  try {
    next = options.load();
  } catch (error) {
    options.logger.error("config reload failed; the running config stays in force", {
      error: messageOf(error),
    });
    return current;
  }
  const changed = changedKeys(current, next);
  const reloadable = new Set<string>(RELOADABLE_KEYS);
  const pinned = changed.filter((k) => options.pinned?.has(k));
  const applied = changed.filter((k) => reloadable.has(k) && !options.pinned?.has(k));
  const restart = changed.filter((k) => !reloadable.has(k));
  // What is applied comes from the new file; what needs a restart keeps its running value.
  const merged: LoadedConfig = {
    ...current,
    log: {
      ...current.log,
      level: pinned.includes("log.level") ? current.log.level : next.log.level,
    },
    metrics: {
      ...current.metrics,
      source_stale_secs: next.metrics.source_stale_secs,
      sink_stale_secs: next.metrics.sink_stale_secs,
    },
  };
  options.apply(merged);
  const fields = {
    applied: applied.join(",") || "none",
    ...(pinned.length > 0 ? { pinned_by_flag: pinned.join(",") } : {}),
    ...(restart.length > 0 ? { restart_needed: restart.join(",") } : {}),
  };
  if (restart.length > 0) {
    options.logger.warn("config reloaded; some changed keys need a restart", fields);
  } else {
    options.logger.info("config reloaded", fields);
  }
  return merged;
}

/** Reload on every SIGHUP until disposed (no-op on Windows, which has no SIGHUP). */
export function reloadOnHangup(options: ReloadOptions): { dispose: () => void } {
  if (Deno.build.os === "windows") return { dispose: () => {} };
  let current = options.initial;
  const handler = () => {
    current = reloadConfig(current, options);
  };
  Deno.addSignalListener("SIGHUP", handler);
  return { dispose: () => Deno.removeSignalListener("SIGHUP", handler) };
}
