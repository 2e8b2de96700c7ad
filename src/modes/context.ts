/** What every mode receives: the loaded config, a logger, a stop signal and its flags. */
import type { LoadedConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";

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
}

export interface ModeContext {
  readonly config: LoadedConfig;
  readonly logger: Logger;
  /** Aborted on SIGINT/SIGTERM: finish the current unit of work, flush, exit 0. */
  readonly signal: AbortSignal;
  readonly flags: ModeFlags;
  /** Results for the user (stdout); logs go to stderr. */
  readonly write: (text: string) => Promise<void>;
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
