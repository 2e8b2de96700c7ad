/**
 * A one-line progress bar for long interactive runs (replay into Kafka), redrawn in place on
 * a terminal. Only used when stderr is a TTY: logs and systemd journals never see it.
 */

const WIDTH = 30;

/** "[#######·······] 45%  123,456 records  12,345/s  ETA 0:42" */
export function renderProgressBar(
  done: number,
  total: number,
  records: number,
  seconds: number,
): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * WIDTH);
  const rate = seconds > 0 ? records / seconds : 0;
  const remaining = fraction > 0 ? seconds * (1 - fraction) / fraction : Infinity;
  const eta = Number.isFinite(remaining)
    ? `${Math.floor(remaining / 60)}:${String(Math.round(remaining % 60)).padStart(2, "0")}`
    : "?";
  return `[${"#".repeat(filled)}${"·".repeat(WIDTH - filled)}] ${Math.floor(fraction * 100)}%  ${
    records.toLocaleString("en")
  } records  ${Math.round(rate).toLocaleString("en")}/s  ETA ${eta}`;
}

/** Redraws the bar every `everyMs` until stopped, then clears the line. */
export class TtyProgress {
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #started = Date.now();

  constructor(
    readonly write: (text: string) => void,
    readonly state: () => { done: number; total: number; records: number },
    everyMs = 250,
  ) {
    this.#timer = setInterval(() => this.#draw(), everyMs);
  }

  #draw(): void {
    const { done, total, records } = this.state();
    this.write(
      `\r\x1b[K${renderProgressBar(done, total, records, (Date.now() - this.#started) / 1000)}`,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    this.write("\r\x1b[K");
  }
}
