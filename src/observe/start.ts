/**
 * What a long-running mode starts beside its work: the Telemetry it feeds, the HTTP endpoint
 * when `[metrics] listen` is set, and the SIGHUP reload of the safe keys.
 */
import type { LoadedConfig } from "../config/mod.ts";
import type { Logger, LogLevel } from "../log.ts";
import type { StaleLimits } from "./health.ts";
import { reloadOnHangup } from "./reload.ts";
import { parseListen, serveTelemetry } from "./server.ts";
import { Telemetry } from "./telemetry.ts";

export interface TelemetryHooks {
  /** Read the config file again (SIGHUP). */
  readonly load: () => LoadedConfig;
  readonly setLevel: (level: LogLevel) => void;
  /** --log-level was given: it wins over the file on reload too. */
  readonly levelPinned: boolean;
}

export function staleLimits(config: Pick<LoadedConfig, "metrics">): StaleLimits {
  return {
    sourceStaleMs: config.metrics.source_stale_secs * 1000,
    sinkStaleMs: config.metrics.sink_stale_secs * 1000,
  };
}

export function startTelemetry(
  mode: string,
  config: LoadedConfig,
  logger: Logger,
  hooks: TelemetryHooks,
): { telemetry: Telemetry; stop: () => Promise<void> } {
  const telemetry = new Telemetry(mode, staleLimits(config), config.metrics.max_series_per_metric);
  // The schema checked the form and the loopback rule already.
  const address = config.metrics.listen ? parseListen(config.metrics.listen) : undefined;
  const server = address ? serveTelemetry(telemetry, address, logger) : undefined;
  const reload = reloadOnHangup({
    initial: config,
    load: hooks.load,
    logger: logger.child({ component: "reload" }),
    pinned: hooks.levelPinned ? new Set(["log.level"]) : undefined,
    apply: (next) => {
      hooks.setLevel(next.log.level);
      telemetry.health.setLimits(staleLimits(next));
    },
  });
  return {
    telemetry,
    stop: async () => {
      reload.dispose();
      await server?.close();
    },
  };
}
