/** What every mode receives: the loaded config, a logger, a stop signal and its flags. */
import { EVERY_SECRET, type LoadedConfig, type SecretScope } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { SystemdNotifier } from "../systemd_notify.ts";
import type { Telemetry } from "../observe/mod.ts";

export interface ModeFlags {
  readonly maxRecords?: number;
  readonly durationMs?: number;
  readonly sources?: readonly string[];
  readonly untilIdle?: boolean;
  /** catalog: print what would change, change nothing. */
  readonly dryRun?: boolean;
  /** catalog: compact the lake's finished hours instead of registering tables. */
  readonly compact?: boolean;
  /** catalog --compact: compact hours that end by this UTC day or hour. */
  readonly before?: string;
  readonly sql?: string;
  /** query: read the SQL from this file. */
  readonly sqlFile?: string;
  readonly named?: string;
  /** `--param name=value` for a named query. */
  readonly params?: readonly string[];
  readonly format?: "table" | "csv" | "json" | "chart";
  readonly output?: string;
  /** query: also draw the result's prices over time into this SVG or HTML file. */
  readonly chart?: string;
  /** consume: move the group's committed offsets (earliest, latest, a time, or p:offset,...). */
  readonly resetOffsets?: string;
  /** consume: read a bounded range into a separate table, committing nothing. */
  readonly reread?: boolean;
  /** consume --reset-offsets / --reread: only these partitions ("0" or "0,2"). */
  readonly partitions?: string;
  readonly fromOffset?: string;
  readonly toOffset?: string;
  readonly fromTime?: string;
  readonly toTime?: string;
  /** consume --reread: the table the range is written to. */
  readonly intoTable?: string;
  /** catalog: delete lake partitions older than store.retention_days. */
  readonly expire?: boolean;
}

/**
 * The secret-bearing config sections a mode uses: only those secrets are read (and only their
 * files are in the mode's permissions). No mode: every section (--print-config).
 */
export function secretScopeOf(mode: string | undefined, flags: ModeFlags): SecretScope {
  switch (mode) {
    case "produce":
      return EVERY_SECRET;
    case "consume":
      return { bus: true, sources: false };
    case "catalog":
      // Compaction reads the consumer group's committed offsets from Kafka.
      return { bus: flags.compact === true, sources: false };
    case "query":
      return { bus: false, sources: false };
    default:
      return EVERY_SECRET;
  }
}

export interface ModeContext {
  readonly config: LoadedConfig;
  readonly logger: Logger;
  /** Aborted on SIGINT/SIGTERM: finish the current unit of work, flush, exit 0. */
  readonly signal: AbortSignal;
  readonly flags: ModeFlags;
  /** Results for the user (stdout); logs go to stderr. */
  readonly write: (text: string) => Promise<void>;
  /** systemd Type=notify: `ready()` after the first real success, `alive()` from the work loop. */
  readonly notifier?: SystemdNotifier;
  /** Metrics and health (produce, consume); absent in tests that do not look at them. */
  readonly telemetry?: Telemetry;
}

/** Serializes async work: consume's message handling and its flush timer share state. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => {});
    return result;
  }
}
