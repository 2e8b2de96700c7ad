/**
 * What every live source (REST polling, WebSocket streams) does to a normalized record before
 * it is published: validate it against ticker v1 and the source's own symbol list, reject an
 * event time too far from the local clock, drop unchanged repeats, and keep everything it
 * refuses as a reject with the raw payload. Replay files are not live: history is exempt.
 */
import { type TickerRecord, validateTicker } from "../record/mod.ts";
import type { SourceItem } from "./mod.ts";

/** Schema id of status events (`<topic>.status`): how consumers tell "no change" from "no data". */
export const STATUS_SCHEMA_ID = "cryptopipe.status.v1";

/**
 * A feed's health event, `cryptopipe.status.v1`: published on `<topic>.status`, keyed by
 * source. Streams emit one on connect, on every reconnect, gap (a missed sequence number) and
 * silence (no message within the timeout), and on a clean stop. Pollers emit `connected` on
 * the first good poll and each recovery, `disconnected` when a failing streak or a ban
 * starts, and `stopped`.
 */
export interface StatusEvent {
  readonly schema: typeof STATUS_SCHEMA_ID;
  readonly source: string;
  /** connected, disconnected (with the reason), gap, silence, or stopped. */
  readonly event: "connected" | "disconnected" | "gap" | "silence" | "stopped";
  /** The symbol concerned (gaps), or null for the whole connection. */
  readonly symbol: string | null;
  readonly detail: string;
  /** Local clock, epoch ms. */
  readonly at: number;
  /** For gaps: the sequence that was due (last seen + 1) and the one that arrived. */
  readonly expected_seq: number | null;
  readonly got_seq: number | null;
  /** Reconnect attempts (streams) or failed polls (REST) since the last good message. */
  readonly attempt: number;
}

/** A status item for the status topic; `gap` only for sequence gaps. */
export function statusItem(
  source: string,
  event: StatusEvent["event"],
  detail: string,
  at: number,
  attempt: number,
  gap: Pick<StatusEvent, "symbol" | "expected_seq" | "got_seq"> = {
    symbol: null,
    expected_seq: null,
    got_seq: null,
  },
): SourceItem {
  return {
    kind: "status",
    status: { schema: STATUS_SCHEMA_ID, source, event, detail, at, attempt, ...gap },
  };
}

/** The largest slice of a bad payload kept in a reject (the rest is counted, not stored). */
export const MAX_REJECT_RAW = 4096;

/** Problems that keep a live record from being published (empty: publish it). */
export function liveRecordProblems(
  record: TickerRecord,
  symbols: readonly string[],
  ingestTime: number,
  maxClockSkewMs: number,
): string[] {
  const validation = validateTicker(record);
  const problems = validation.ok ? [] : [...validation.problems];
  if (!symbols.includes(record.symbol)) {
    problems.push(`symbol: ${record.symbol} is not one of this source's symbols`);
  }
  if (record.event_time !== null && Math.abs(record.event_time - ingestTime) > maxClockSkewMs) {
    problems.push(
      `event_time: ${new Date(record.event_time).toISOString()} is more than ${
        maxClockSkewMs / 1000
      }s from the local clock (max_clock_skew_secs)`,
    );
  }
  return problems;
}

/**
 * Same source, symbol and event_time as the last one published: a repeat, not news. Without
 * an event_time (Kraken), the price, bid, ask and volumes are compared instead.
 */
export class ChangeFilter {
  readonly #last = new Map<string, string>();

  unchanged(record: TickerRecord): boolean {
    const fingerprint = record.event_time !== null
      ? `t:${record.event_time}`
      : `v:${record.price}|${record.bid}|${record.ask}|${record.volume_24h_base}|${record.volume_24h_quote}`;
    if (this.#last.get(record.symbol) === fingerprint) return true;
    this.#last.set(record.symbol, fingerprint);
    return false;
  }
}

/** A refused payload for the rejects topic; `origin` says where in the feed it came from. */
export function rejectItem(
  source: string,
  raw: string,
  problems: readonly string[],
  origin: string,
): SourceItem {
  return {
    kind: "rejected",
    rejected: { raw: raw.slice(0, MAX_REJECT_RAW), problems, origin: `${source}:${origin}` },
  };
}
