/**
 * WebSocket streaming sources. Each provider is an adapter (one file per provider: the URL and
 * subscribe messages for the symbols, an optional client keep-alive, and a pure `parse` from
 * one message to ticker v1 candidates and control signals); this file is the engine they
 * share: connect and subscribe, a silence watchdog, reconnects with jittered exponential
 * backoff, sequence-gap detection, status events, and batching of what arrives.
 *
 * Streams cannot be replayed: what is missed while disconnected is gone. That is why every
 * connect, disconnect, gap, silence and stop is published as a status event.
 */
import type { Logger } from "../log.ts";
import type { TickerRecord } from "../record/mod.ts";
import { MAX_RAW_CHARS } from "./fields.ts";
import { ChangeFilter, liveRecordProblems, rejectItem, statusItem } from "./live.ts";
import type { Source, SourceClock, SourceItem, StatusEvent } from "./mod.ts";
import type { Unusable } from "./rest.ts";

export interface WsContext {
  /** Local receive time of the message, epoch ms. */
  readonly ingestTime: number;
  /** The canonical BASE-QUOTE symbols configured for this source. */
  readonly symbols: readonly string[];
}

/** A sequence number seen in the feed; a jump of more than one within a connection is a gap. */
export interface SequenceMark {
  /** What the numbers count within, e.g. "ticker:BTC-USD" or "heartbeat:BTC-USD". */
  readonly stream: string;
  readonly symbol: string | null;
  readonly seq: number;
}

/** What one message gave. Every part is optional: a heartbeat gives nothing at all. */
export interface WsParsed {
  /** Candidates: the engine still validates each against ticker v1 before publishing. */
  readonly records?: readonly TickerRecord[];
  readonly unusable?: readonly Unusable[];
  readonly sequences?: readonly SequenceMark[];
  /** The server announced it will close (Binance serverShutdown): reconnect now, no backoff. */
  readonly reconnect?: string;
  /** Worth a warning in the log, not a record: a refused subscription, an error message. */
  readonly notices?: readonly string[];
}

export interface WsAdapter {
  readonly source: TickerRecord["source"];
  /** The URL to open for these symbols (Binance puts its streams in the URL). */
  url(base: string, symbols: readonly string[]): string;
  /** Messages sent as soon as the socket opens (and again after every reconnect). */
  subscribe(symbols: readonly string[]): string[];
  /** A client ping the provider needs to keep the connection (Kraken); n counts from 1. */
  readonly keepAlive?: { readonly intervalMs: number; message(n: number): string };
  /** Pure: one message → records and signals. Never throws on odd input: it reports it. */
  parse(text: string, context: WsContext): WsParsed;
}

/** A provider's documented defaults (the `*_WS_DEFAULTS` of each adapter). */
export interface WsDefaults {
  readonly url: string;
  /** Reconnect before the provider's own connection lifetime runs out (Binance: 24 h). */
  readonly maxConnectionSecs?: number;
}

/** What the engine needs from a WebSocket source's config (see the [sources.*] keys). */
export interface WsSettings {
  readonly symbols: readonly string[];
  readonly url: string;
  /** No message for this long: close and reconnect (also bounds connecting). */
  readonly silenceTimeoutMs: number;
  readonly reconnectMaxMs: number;
  readonly maxConnectionMs?: number;
  readonly maxClockSkewMs: number;
  /** How long items gather before a batch is yielded; default {@link BATCH_MS}. */
  readonly batchMs?: number;
}

export interface WsDeps {
  readonly clock: SourceClock;
  readonly logger: Logger;
}

type Timer = ReturnType<typeof setTimeout>;

export const BATCH_MS = 100;
const FIRST_BACKOFF_MS = 1_000;
/** A peer that never answers our close frame keeps the socket open; stop waiting after this. */
const CLOSE_WAIT_MS = 2_000;

/** A message as JSON, or the Unusable that says why it is not (kept verbatim, cut). */
export function jsonMessage(text: string): { value: unknown } | { unusable: Unusable } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    const start = text.slice(0, 80).replace(/\s+/g, " ");
    return { unusable: { raw: text.slice(0, MAX_RAW_CHARS), problems: [`not JSON: ${start}`] } };
  }
}

/** How a connection ended; planned ends (stop, serverShutdown, max age) skip the backoff. */
interface Ended {
  readonly reason: string;
  readonly planned: boolean;
}

/** Per `items()` run: reconnect attempts since the last good message. */
interface RunState {
  attempts: number;
}

export class WsSource implements Source {
  readonly #adapter: WsAdapter;
  readonly #clock: SourceClock;
  readonly #logger: Logger;
  /** Repeats (same event time, or same prices without one) are not republished. */
  readonly #changes = new ChangeFilter();

  constructor(
    readonly name: string,
    adapter: WsAdapter,
    readonly settings: WsSettings,
    deps: WsDeps,
  ) {
    this.#adapter = adapter;
    this.#clock = deps.clock;
    this.#logger = deps.logger.child({ source: name });
  }

  async *items(signal: AbortSignal): AsyncIterable<SourceItem[]> {
    const inbox = new Inbox();
    // Our own stop as well as the caller's: a consumer that breaks out early stops the socket.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) stop.abort();
    const running = this.#run(stop.signal, inbox)
      .catch((error) => this.#logger.error(`stream failed: ${(error as Error).message}`))
      .finally(() => inbox.close());
    try {
      for (;;) {
        await inbox.ready();
        await inbox.gather(this.settings.batchMs ?? BATCH_MS);
        // Stopping: the last batch carries the "stopped" status (a caller may not ask again).
        if (stop.signal.aborted) await inbox.closed;
        const batch = inbox.take();
        if (batch.length > 0) yield batch;
        if (inbox.done) return;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      stop.abort();
      await running;
    }
  }

  /** Connect, and reconnect after every end until stopped. */
  async #run(signal: AbortSignal, inbox: Inbox): Promise<void> {
    const state: RunState = { attempts: 0 };
    this.#logger.info("streams cannot be replayed: what is missed while disconnected is gone");
    while (!signal.aborted) {
      const started = this.#clock.now();
      const ended = await this.#connection(signal, inbox, state);
      if (signal.aborted) break;
      let delay = 0;
      // A planned end comes back at once, unless the connection barely lived: a server that
      // says "shutdown" right after every connect must not get a tight reconnect loop.
      if (!ended.planned || this.#clock.now() - started < FIRST_BACKOFF_MS) {
        state.attempts++;
        const backoff = Math.min(
          this.settings.reconnectMaxMs,
          FIRST_BACKOFF_MS * 2 ** Math.min(state.attempts - 1, 30),
        );
        // Jitter, so many clients cut at once do not all come back in the same instant.
        delay = Math.round(backoff * (0.5 + Math.random() / 2));
      }
      inbox.push([
        this.#status("disconnected", `${ended.reason}; reconnecting in ${delay} ms`, state),
      ]);
      if (delay > 0) await this.#clock.sleep(delay, signal);
    }
    inbox.push([this.#status("stopped", "stopped on request", state)]);
  }

  /** One socket, from connect to close. Resolves (never rejects) once it is closed. */
  #connection(signal: AbortSignal, inbox: Inbox, state: RunState): Promise<Ended> {
    const { symbols, silenceTimeoutMs, maxConnectionMs } = this.settings;
    const adapter = this.#adapter;
    const url = adapter.url(this.settings.url, symbols);
    const where = describeUrl(url);
    return new Promise((resolve) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        return resolve({ reason: `cannot connect: ${(error as Error).message}`, planned: false });
      }
      socket.binaryType = "arraybuffer";
      const sequences = new Map<string, number>();
      let opened = false;
      let ending: Ended | undefined;
      let lastError = "";
      let silence: Timer | undefined;
      let keepAlive: Timer | undefined;
      let maxAge: Timer | undefined;
      let closeWait: Timer | undefined;
      const clearTimers = () => {
        clearTimeout(silence);
        clearInterval(keepAlive);
        clearTimeout(maxAge);
      };
      const finish = (event?: CloseEvent) => {
        clearTimers();
        clearTimeout(closeWait);
        signal.removeEventListener("abort", onAbort);
        resolve(ending ?? { reason: closeReason(event, lastError, opened), planned: false });
      };
      /** We end it: close the socket and wait (bounded) for the close to complete. */
      const end = (why: Ended) => {
        if (ending) return;
        ending = why;
        clearTimers();
        try {
          socket.close(1000);
        } catch { /* already closing */ }
        closeWait = setTimeout(finish, CLOSE_WAIT_MS);
      };
      const onAbort = () => end({ reason: "stopped", planned: true });
      signal.addEventListener("abort", onAbort, { once: true });
      const armSilence = () => {
        clearTimeout(silence);
        silence = setTimeout(() => {
          const secs = silenceTimeoutMs / 1000;
          if (!opened) return end({ reason: `not connected within ${secs} s`, planned: false });
          inbox.push([this.#status("silence", `no message for ${secs} s`, state)]);
          end({ reason: `silent for ${secs} s (silence_timeout_secs)`, planned: false });
        }, silenceTimeoutMs);
      };
      armSilence();

      socket.onopen = () => {
        opened = true;
        const send = (text: string) => {
          try {
            socket.send(text);
          } catch (error) {
            lastError = `send failed: ${(error as Error).message}`;
          }
        };
        for (const message of adapter.subscribe(symbols)) send(message);
        inbox.push([this.#status(
          "connected",
          `connected to ${where}, subscribed to ${symbols.length} symbol(s)`,
          state,
        )]);
        const pings = adapter.keepAlive;
        if (pings) {
          let n = 0;
          keepAlive = setInterval(() => send(pings.message(++n)), pings.intervalMs);
        }
        if (maxConnectionMs !== undefined) {
          maxAge = setTimeout(() =>
            end({
              reason: `connection is ${
                maxConnectionMs / 1000
              } s old (max_connection_secs): renewed before the server cuts it`,
              planned: true,
            }), maxConnectionMs);
        }
      };
      socket.onmessage = (event: MessageEvent) => {
        if (ending) return;
        armSilence();
        const text = typeof event.data === "string"
          ? event.data
          : new TextDecoder().decode(event.data as ArrayBuffer);
        const parsed = this.#parse(text);
        inbox.push(this.#items(parsed, text, sequences, state));
        if (parsed.reconnect !== undefined) end({ reason: parsed.reconnect, planned: true });
        // Kafka slower than the feed: drop the connection rather than buffer without bound
        // (a stream cannot be paused; the status topic records the disconnect).
        else if (inbox.size > MAX_INBOX_ITEMS) {
          end({
            reason: `${inbox.size} items waiting for Kafka (the bus is slower than the feed)`,
            planned: false,
          });
        }
      };
      socket.onerror = (event: Event) => {
        lastError = (event as ErrorEvent).message ?? "";
      };
      socket.onclose = (event: CloseEvent) => finish(event);
    });
  }

  #parse(text: string): WsParsed {
    const context = { ingestTime: this.#clock.now(), symbols: this.settings.symbols };
    try {
      return this.#adapter.parse(text, context);
    } catch (error) {
      // Adapters promise not to throw; if one does, the message is kept as a reject.
      return {
        unusable: [{
          raw: text.slice(0, MAX_RAW_CHARS),
          problems: [`parse failed: ${(error as Error).message}`],
        }],
      };
    }
  }

  /** One parsed message → items: rejects, checked and deduplicated records, gap statuses. */
  #items(
    parsed: WsParsed,
    text: string,
    sequences: Map<string, number>,
    state: RunState,
  ): SourceItem[] {
    const items: SourceItem[] = [];
    const origin = `${this.#adapter.source} ws`;
    for (const { raw, problems } of parsed.unusable ?? []) {
      this.#logger.debug("rejected", { origin, problem: problems[0] });
      items.push(rejectItem(this.name, raw, problems, origin));
    }
    // Data or a heartbeat: the feed works again (an ack alone does not show that).
    if ((parsed.records ?? []).length > 0 || (parsed.sequences ?? []).length > 0) {
      state.attempts = 0;
    }
    for (const record of parsed.records ?? []) {
      const problems = liveRecordProblems(
        record,
        this.settings.symbols,
        record.ingest_time,
        this.settings.maxClockSkewMs,
      );
      if (problems.length > 0) {
        // The provider's message as received, not our record: the reject keeps the raw bytes.
        items.push(rejectItem(this.name, text, problems, origin));
      } else if (!this.#changes.unchanged(record)) {
        items.push({ kind: "record", record });
      }
    }
    for (const { stream, symbol, seq } of parsed.sequences ?? []) {
      const last = sequences.get(stream);
      sequences.set(stream, seq);
      if (last === undefined || seq <= last + 1) continue;
      const missed = seq - last - 1;
      items.push(this.#status("gap", `${stream}: ${missed} message(s) missed`, state, {
        symbol,
        expected_seq: last + 1,
        got_seq: seq,
      }));
    }
    for (const notice of parsed.notices ?? []) this.#logger.warn(notice);
    return items;
  }

  #status(
    event: StatusEvent["event"],
    detail: string,
    state: RunState,
    gap: Pick<StatusEvent, "symbol" | "expected_seq" | "got_seq"> = {
      symbol: null,
      expected_seq: null,
      got_seq: null,
    },
  ): SourceItem {
    return statusItem(this.name, event, detail, this.#clock.now(), state.attempts, gap);
  }
}

/** Host and path only: a query string could carry more than we want in logs. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

/** Why a socket we did not close ended, for the "disconnected" status. */
function closeReason(event: CloseEvent | undefined, error: string, opened: boolean): string {
  if (!opened) return `cannot connect: ${error || `code ${event?.code}`}`;
  const lost = !event || !event.wasClean || event.code === 1006 || event.code === 0;
  const what = lost
    ? `connection lost (code ${event?.code ?? "none"})`
    : `closed by the server (code ${event.code}${event.reason ? `: ${event.reason}` : ""})`;
  return error ? `${what}: ${error}` : what;
}

/** Items waiting before the stream is dropped (the bus is not keeping up). */
const MAX_INBOX_ITEMS = 50_000;

/**
 * Where the socket's callbacks leave items for the generator: it wakes on the first item,
 * lets more gather for a short while, and takes them all as one batch.
 */
class Inbox {
  #items: SourceItem[] = [];
  #closed = false;
  #waiters: Array<() => void> = [];
  readonly #closing = Promise.withResolvers<void>();

  push(items: readonly SourceItem[]): void {
    if (items.length === 0) return;
    this.#items.push(...items);
    this.#wake();
  }

  close(): void {
    this.#closed = true;
    this.#closing.resolve();
    this.#wake();
  }

  /** Resolves when the connection loop has ended. */
  get closed(): Promise<void> {
    return this.#closing.promise;
  }

  /** Items waiting for the generator. */
  get size(): number {
    return this.#items.length;
  }

  /** Closed and emptied: the generator is finished. */
  get done(): boolean {
    return this.#closed && this.#items.length === 0;
  }

  /** Resolves once an item is waiting or the inbox is closed. */
  async ready(): Promise<void> {
    while (this.#items.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Let more items arrive for `ms`, cut short by close (a stop is yielded at once). */
  async gather(ms: number): Promise<void> {
    if (this.#closed) return;
    let timer: Timer | undefined;
    await Promise.race([
      new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
      this.#closing.promise,
    ]);
    clearTimeout(timer);
  }

  take(): SourceItem[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
