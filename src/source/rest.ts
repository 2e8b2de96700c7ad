/**
 * REST polling sources. Each provider is an adapter (one file per provider: which requests
 * make one poll, how an error hides in a 200 body, and a pure `normalize` from the bodies to
 * ticker v1 candidates); this file is the engine they share.
 */
import type { Secret } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { TickerRecord } from "../record/mod.ts";
import {
  ChangeFilter,
  liveRecordProblems,
  MAX_REJECT_RAW,
  rejectItem,
  type StatusEvent,
  statusItem,
} from "./live.ts";
import type { Source, SourceClock, SourceItem } from "./mod.ts";

/** One HTTP GET of a poll, relative to the source's base URL. */
export interface HttpRequest {
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A response body that is an error although the status is 200 (CryptoCompare, Kraken). */
export interface BodyError {
  /** throttled: wait and retry like a 429; failed: the request itself is wrong. */
  readonly kind: "throttled" | "failed";
  readonly message: string;
}

export interface PollResponse {
  readonly request: HttpRequest;
  /** Parsed JSON. */
  readonly body: unknown;
}

export interface NormalizeContext {
  /** Local receive time, epoch ms. */
  readonly ingestTime: number;
  /** The canonical BASE-QUOTE symbols configured for this source. */
  readonly symbols: readonly string[];
}

/** A piece of a response that could not become a record, kept for the rejects topic. */
export interface Unusable {
  /** The part of the payload it came from, as JSON text. */
  readonly raw: string;
  readonly problems: readonly string[];
}

export interface Normalized {
  /** Candidates: the engine still validates each against ticker v1 before publishing. */
  readonly records: TickerRecord[];
  readonly unusable: Unusable[];
}

export interface RestAdapter {
  readonly source: TickerRecord["source"];
  /** Headers that carry an API key (the key comes from a secret source, never the TOML). */
  authorize?(apiKey: string): Record<string, string>;
  /** The requests of one poll for these canonical symbols. */
  requests(symbols: readonly string[]): HttpRequest[];
  /** An error reported inside a successful response, or undefined. */
  bodyError(body: unknown): BodyError | undefined;
  /** Pure: bodies of one poll → records. Never throws on odd input: it reports it. */
  normalize(responses: readonly PollResponse[], context: NormalizeContext): Normalized;
}

/** What the engine needs from a REST source's config (see the [sources.*] keys). */
export interface RestSettings {
  readonly symbols: readonly string[];
  readonly baseUrl: string;
  readonly pollIntervalMs: number;
  readonly requestsPerMinute: number;
  readonly requestTimeoutMs: number;
  readonly maxResponseBytes: number;
  /** Live data must carry an event_time within this distance of the local clock. */
  readonly maxClockSkewMs: number;
}

export interface RestDeps {
  readonly clock: SourceClock;
  readonly logger: Logger;
  readonly apiKey?: Secret;
  /** Tests inject faults below fetch; production uses the global one. */
  readonly fetch?: typeof fetch;
}

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;
/** A 418 without Retry-After: Binance's shortest ban. */
const DEFAULT_BAN_MS = 120_000;

/** Outcome of one request. */
type Fetched =
  | { kind: "ok"; body: unknown; text: string }
  | { kind: "bad"; raw: string; problem: string }
  | { kind: "retry"; problem: string; afterMs?: number }
  | { kind: "ban"; problem: string; afterMs: number }
  | { kind: "fatal"; problem: string };

/**
 * A token bucket over the source's documented request budget: `perMinute` spread evenly, with
 * a burst of a tenth of a minute, so a poll of many requests (Coinbase: two per product)
 * never bursts past the provider's limit.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #capacity: number;
  constructor(readonly perMinute: number, readonly clock: SourceClock) {
    this.#capacity = Math.max(1, Math.floor(perMinute / 10));
    this.#tokens = this.#capacity;
    this.#last = clock.now();
  }
  async take(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const now = this.clock.now();
      this.#tokens = Math.min(
        this.#capacity,
        this.#tokens + ((now - this.#last) * this.perMinute) / 60_000,
      );
      this.#last = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return true;
      }
      if (signal.aborted) return false;
      await this.clock.sleep(Math.ceil(((1 - this.#tokens) * 60_000) / this.perMinute), signal);
    }
  }
}

/** The longest wait honoured (Binance bans last up to 3 days; timers overflow past 24.8). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** Retry-After: seconds, or an HTTP date; capped at a day. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}

export class RestSource implements Source {
  readonly #adapter: RestAdapter;
  readonly #settings: RestSettings;
  readonly #deps: RestDeps;
  readonly #logger: Logger;
  /** Unchanged polls are not republished. */
  readonly #changes = new ChangeFilter();

  constructor(
    readonly name: string,
    adapter: RestAdapter,
    settings: RestSettings,
    deps: RestDeps,
  ) {
    this.#adapter = adapter;
    this.#settings = settings;
    this.#deps = deps;
    this.#logger = deps.logger.child({ source: name });
  }

  async *items(signal: AbortSignal): AsyncIterable<SourceItem[]> {
    const { clock } = this.#deps;
    const bucket = new TokenBucket(this.#settings.requestsPerMinute, clock);
    let failures = 0;
    let healthy: boolean | undefined;
    // Like the streams, polls report their health on the status topic: the first good poll
    // and each recovery ("connected"), the start of a failing streak ("disconnected"), and a
    // stop. So a consumer can tell a quiet market from a source that cannot reach its API.
    const status = (event: StatusEvent["event"], detail: string) =>
      statusItem(this.name, event, detail, clock.now(), failures);
    while (!signal.aborted) {
      const started = clock.now();
      const { items, wait, why, banned, unusable } = await this.#poll(bucket, signal);
      if (signal.aborted) {
        // A request cut off by the stop is not a failure of the provider.
        items.push(status("stopped", "stopped on request"));
        yield items;
        return;
      }
      if (wait === "fatal") {
        yield [...items, status("stopped", why ?? "stopped")];
        return;
      }
      let pause = this.#settings.pollIntervalMs - (clock.now() - started);
      if (wait !== undefined) {
        failures++;
        const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
        // Full jitter on the backoff; Retry-After and bans are floors, never shortened.
        pause = Math.max(pause, wait, backoff * (0.5 + Math.random() / 2));
        if (healthy !== false || banned) {
          items.push(status("disconnected", `${why}; retrying in ${Math.round(pause)} ms`));
        }
        healthy = false;
      } else if (unusable) {
        if (healthy !== false) items.push(status("disconnected", `no usable answer: ${why}`));
        healthy = false;
      } else if (!signal.aborted && healthy !== true) {
        items.push(
          status(
            "connected",
            failures > 0
              ? `recovered after ${failures} failed polls`
              : healthy === false
              ? "recovered: usable answers again"
              : "polling",
          ),
        );
        healthy = true;
        failures = 0;
      }
      if (items.length > 0) yield items;
      if (pause > 0) await clock.sleep(pause, signal);
    }
    yield [status("stopped", "stopped on request")];
  }

  /** One poll: every request, then normalize, validate, dedup. */
  async #poll(
    bucket: TokenBucket,
    signal: AbortSignal,
  ): Promise<
    {
      items: SourceItem[];
      wait?: number | "fatal";
      why?: string;
      banned?: boolean;
      unusable?: boolean;
    }
  > {
    const items: SourceItem[] = [];
    const responses: PollResponse[] = [];
    /** The bodies as received, so a refused record is kept as the provider sent it. */
    const texts: { path: string; text: string }[] = [];
    let wait: number | "fatal" | undefined;
    let why: string | undefined;
    let banned = false;
    for (const request of this.#adapter.requests(this.#settings.symbols)) {
      if (!(await bucket.take(signal))) return { items };
      const fetched = await this.#get(request, signal);
      const origin = this.#origin(request);
      switch (fetched.kind) {
        case "ok":
          responses.push({ request, body: fetched.body });
          texts.push({ path: request.path, text: fetched.text });
          continue;
        case "bad":
          // Kept as a reject; the next poll comes at the normal pace (only throttling and
          // failures back off), so one bad body does not silence the other symbols.
          items.push(this.#reject(fetched.raw, [fetched.problem], origin));
          continue;
        case "retry":
          if (signal.aborted) return { items }; // cut off by the stop: not a provider failure
          why = `${origin}: ${fetched.problem}`;
          this.#logger.warn(`${origin}: ${fetched.problem}; backing off`);
          wait = Math.max(typeof wait === "number" ? wait : 0, fetched.afterMs ?? 0);
          break;
        case "ban":
          // Logged by produce from the status event ("feed disconnected: ...").
          why = `${origin}: ${fetched.problem}; this source pauses for ${
            Math.round(fetched.afterMs / 1000)
          }s (the other sources go on)`;
          wait = fetched.afterMs;
          banned = true;
          break;
        case "fatal":
          return {
            items,
            wait: "fatal",
            why: `${origin}: ${fetched.problem}; this source stops (the other sources go on)`,
          };
      }
      break; // a throttled or failing provider gets no more requests this poll
    }
    if (responses.length === 0) {
      // Every answer was unusable (an HTML page, an error body): the source is not delivering,
      // though nothing is throttled. Reported as unhealthy, polled at the normal pace.
      const first = items.find((i) => i.kind === "rejected");
      return {
        items,
        wait,
        why: why ?? (first?.kind === "rejected" ? first.rejected.problems[0] : undefined),
        banned,
        unusable: wait === undefined && first !== undefined,
      };
    }
    const ingestTime = this.#deps.clock.now();
    const normalized = this.#safeNormalize(responses, ingestTime);
    for (const unusable of normalized.unusable) {
      items.push(this.#reject(unusable.raw, unusable.problems, this.#adapter.source));
    }
    for (const record of normalized.records) {
      const problems = liveRecordProblems(
        record,
        this.#settings.symbols,
        ingestTime,
        this.#settings.maxClockSkewMs,
      );
      if (problems.length > 0) {
        items.push(
          this.#reject(
            rawAround(texts, record.source_symbol, record.base),
            problems,
            this.#adapter.source,
          ),
        );
        continue;
      }
      if (this.#changes.unchanged(record)) continue;
      items.push({ kind: "record", record });
    }
    return { items, wait, why, banned };
  }

  #safeNormalize(responses: readonly PollResponse[], ingestTime: number): Normalized {
    try {
      return this.#adapter.normalize(responses, { ingestTime, symbols: this.#settings.symbols });
    } catch (error) {
      // Adapters promise not to throw; if one does, the poll is kept as a reject, not lost.
      return {
        records: [],
        unusable: [{
          raw: JSON.stringify(responses.map((r) => r.body)),
          problems: [`normalize failed: ${(error as Error).message}`],
        }],
      };
    }
  }

  #reject(raw: string, problems: readonly string[], origin: string): SourceItem {
    this.#logger.debug("rejected", { origin, problem: problems[0] });
    return rejectItem(this.name, raw, problems, origin);
  }

  #url(request: HttpRequest): URL {
    const url = new URL(this.#settings.baseUrl.replace(/\/+$/, "") + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      url.searchParams.set(key, value);
    }
    return url;
  }

  /** Logged and kept with rejects: the path and query, never headers (they may hold a key). */
  #origin(request: HttpRequest): string {
    const url = this.#url(request);
    return `GET ${url.pathname}${url.search}`;
  }

  async #get(request: HttpRequest, signal: AbortSignal): Promise<Fetched> {
    const doFetch = this.#deps.fetch ?? fetch;
    const headers: Record<string, string> = { accept: "application/json", ...request.headers };
    if (this.#deps.apiKey && this.#adapter.authorize) {
      Object.assign(headers, this.#adapter.authorize(this.#deps.apiKey.reveal()));
    }
    const timeout = AbortSignal.timeout(this.#settings.requestTimeoutMs);
    let response: Response;
    try {
      response = await doFetch(this.#url(request), {
        headers,
        signal: AbortSignal.any([signal, timeout]),
        redirect: "error",
      });
    } catch (error) {
      if (signal.aborted) return { kind: "retry", problem: "stopped" };
      return {
        kind: "retry",
        problem: timeout.aborted
          ? `no response within ${this.#settings.requestTimeoutMs} ms (request_timeout_ms)`
          : `request failed: ${(error as Error).message}`,
      };
    }
    const now = this.#deps.clock.now();
    const status = response.status;
    if (status !== 200) {
      const snippet = (await readCapped(response, 300, timeout).catch(() => ({ text: "" }))).text;
      const problem = `HTTP ${status}${snippet ? `: ${oneLine(snippet)}` : ""}`;
      const after = retryAfterMs(response.headers.get("retry-after"), now);
      if (status === 418) return { kind: "ban", problem, afterMs: after ?? DEFAULT_BAN_MS };
      if (status === 451) {
        return {
          kind: "fatal",
          problem:
            `${problem} (the provider refuses this location; use another base_url or drop the source)`,
        };
      }
      if ([400, 401, 403, 404].includes(status)) {
        return { kind: "fatal", problem: `${problem} (not retried: fix the source's config)` };
      }
      return { kind: "retry", problem, afterMs: after };
    }
    let text: string;
    try {
      const read = await readCapped(response, this.#settings.maxResponseBytes, timeout);
      if (read.truncated) {
        return {
          kind: "bad",
          raw: read.text,
          problem:
            `response larger than ${this.#settings.maxResponseBytes} bytes (max_response_bytes)`,
        };
      }
      text = read.text;
    } catch (error) {
      return {
        kind: "retry",
        problem: timeout.aborted
          ? `response not complete within ${this.#settings.requestTimeoutMs} ms`
          : `response broke off: ${(error as Error).message}`,
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { kind: "bad", raw: text, problem: `not JSON: ${oneLine(text.slice(0, 80))}` };
    }
    const bodyError = this.#adapter.bodyError(body);
    if (bodyError?.kind === "throttled") {
      return { kind: "retry", problem: `throttled (HTTP 200 body): ${bodyError.message}` };
    }
    if (bodyError) {
      return { kind: "bad", raw: text, problem: `error in the response: ${bodyError.message}` };
    }
    return { kind: "ok", body, text };
  }
}

/**
 * The provider's bytes for one refused record: the part of the poll's bodies around its own
 * symbol (a body can hold hundreds of tickers; a reject keeps at most MAX_REJECT_RAW).
 */
function rawAround(
  texts: readonly { path: string; text: string }[],
  sourceSymbol: string,
  base: string,
): string {
  // One request per product (Coinbase): its path names it.
  const own = texts.find((t) => t.path.includes(`/${sourceSymbol}/`));
  if (own) return own.text;
  // The provider's name for it, else its base code as a key (CryptoCompare's RAW.<BASE>).
  for (const needle of [JSON.stringify(sourceSymbol), `${JSON.stringify(base)}:`]) {
    for (const { text } of texts) {
      const at = text.indexOf(needle);
      if (at >= 0) {
        return text.slice(Math.max(0, at - 200), Math.max(0, at - 200) + MAX_REJECT_RAW);
      }
    }
  }
  return texts.map((t) => t.text).join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** Read at most `max` bytes of a body; past that the rest is dropped and `truncated` set. */
async function readCapped(
  response: Response,
  max: number,
  signal: AbortSignal,
): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: "", truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      // A cancel by the timeout ends the stream like a finished body: it is not one.
      if (signal.aborted) throw new Error("timed out");
      if (done) break;
      if (size + value.byteLength > max) {
        chunks.push(value.subarray(0, max - size));
        truncated = true;
        await reader.cancel().catch(() => {});
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), truncated };
}
