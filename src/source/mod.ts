/**
 * Stage door: sources. A source yields batches of items: normalized records, or rejected
 * input that the producer routes to the rejects topic (never dropped).
 */
import type { SourceConfig } from "../config/mod.ts";
import type { TickerRecord } from "../record/mod.ts";
import { ReplaySource } from "./replay.ts";
import { SimulatedSource } from "./simulated.ts";

export interface Rejected {
  /** The input as received (a CSV line, a JSON payload). */
  readonly raw: string;
  readonly problems: readonly string[];
  /** Where it came from, e.g. "examples/ticker_sample.csv:17". */
  readonly origin: string;
}

export type SourceItem =
  | { readonly kind: "record"; readonly record: TickerRecord }
  | { readonly kind: "rejected"; readonly rejected: Rejected };

export interface Source {
  readonly name: string;
  /** Yields until exhausted (replay) or until `signal` aborts (live sources). */
  items(signal: AbortSignal): AsyncIterable<SourceItem[]>;
}

/** Clock and sleep, injectable so tests run without waiting. */
export interface SourceClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: SourceClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    }),
};

export function createSource(
  name: string,
  config: SourceConfig,
  clock: SourceClock = realClock,
): Source {
  switch (config.type) {
    case "simulated":
      return new SimulatedSource(name, config, clock);
    case "replay":
      return new ReplaySource(name, config, clock);
  }
}
