import type { SourceClock } from "./mod.ts";

/**
 * Paces emission to a rate: returns how many items are due now, sleeping when none are.
 * Emitting in small bursts (not one timer per item) keeps high rates cheap.
 */
export class Pacer {
  readonly #start: number;
  #emitted = 0;
  constructor(readonly ratePerSecond: number, readonly clock: SourceClock) {
    this.#start = clock.now();
  }

  async due(maxBurst: number, signal: AbortSignal): Promise<number> {
    if (this.ratePerSecond <= 0) return maxBurst;
    for (;;) {
      const elapsed = this.clock.now() - this.#start;
      const owed = Math.floor((elapsed * this.ratePerSecond) / 1000) - this.#emitted;
      if (owed > 0) {
        const n = Math.min(owed, maxBurst);
        this.#emitted += n;
        return n;
      }
      if (signal.aborted) return 0;
      const wait = Math.max(
        1,
        Math.ceil(((this.#emitted + 1) * 1000) / this.ratePerSecond - elapsed),
      );
      await this.clock.sleep(Math.min(wait, 250), signal);
    }
  }
}
