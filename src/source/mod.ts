/**
 * Stage door: sources. A source yields batches of items: normalized records, or rejected
 * input that the producer routes to the rejects topic (never dropped), and feed status events.
 * Offline: simulated, replay. REST polling: coingecko, binance, cryptocompare, coinbase, kraken
 * (rest.ts is the engine). WebSocket streams: binance_ws, coinbase_ws, kraken_ws (ws.ts is the
 * engine). One adapter file per provider.
 */
import type { SourceConfig } from "../config/mod.ts";
import type { TickerRecord } from "../record/mod.ts";
import type { Secret } from "../config/mod.ts";
import { type Logger, silentLogger } from "../log.ts";
import { BINANCE_DEFAULTS, binanceAdapter } from "./binance.ts";
import { BINANCE_WS_DEFAULTS, binanceWsAdapter } from "./binance_ws.ts";
import { COINBASE_DEFAULTS, coinbaseAdapter } from "./coinbase.ts";
import { COINBASE_WS_DEFAULTS, coinbaseWsAdapter } from "./coinbase_ws.ts";
import { COINGECKO_DEFAULTS, coingeckoAdapter } from "./coingecko.ts";
import { CRYPTOCOMPARE_DEFAULTS, cryptocompareAdapter } from "./cryptocompare.ts";
import { KRAKEN_DEFAULTS, krakenAdapter } from "./kraken.ts";
import { KRAKEN_WS_DEFAULTS, krakenWsAdapter } from "./kraken_ws.ts";
import { ReplaySource } from "./replay.ts";
import { type RestAdapter, RestSource } from "./rest.ts";
import { SimulatedSource } from "./simulated.ts";
import { WsSource } from "./ws.ts";

export interface Rejected {
  /** The input as received (a CSV line, a JSON payload). */
  readonly raw: string;
  readonly problems: readonly string[];
  /** Where it came from, e.g. "examples/ticker_sample.csv:17". */
  readonly origin: string;
}

export { STATUS_SCHEMA_ID, type StatusEvent } from "./live.ts";
import type { StatusEvent } from "./live.ts";

export type SourceItem =
  | { readonly kind: "record"; readonly record: TickerRecord }
  | { readonly kind: "rejected"; readonly rejected: Rejected }
  | { readonly kind: "status"; readonly status: StatusEvent };

export interface Source {
  readonly name: string;
  /** Yields until exhausted (replay) or until `signal` aborts (live sources). */
  items(signal: AbortSignal): AsyncIterable<SourceItem[]>;
  /** How far a finite source is (replay: bytes of the file), for a progress bar. */
  progress?(): { readonly done: number; readonly total: number };
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

export interface SourceDeps {
  readonly clock?: SourceClock;
  readonly logger?: Logger;
  /** The source's API key, when its config names one. */
  readonly apiKey?: Secret;
  /** Tests only: a fetch that injects faults below the HTTP client. */
  readonly fetch?: typeof fetch;
}

/** Each REST provider: its adapter and its documented defaults. */
const REST_PROVIDERS = {
  coingecko: {
    adapter: (c: Extract<SourceConfig, { type: "coingecko" }>) => coingeckoAdapter({ ids: c.ids }),
    defaults: COINGECKO_DEFAULTS,
  },
  binance: { adapter: () => binanceAdapter(), defaults: BINANCE_DEFAULTS },
  cryptocompare: { adapter: () => cryptocompareAdapter(), defaults: CRYPTOCOMPARE_DEFAULTS },
  coinbase: { adapter: () => coinbaseAdapter(), defaults: COINBASE_DEFAULTS },
  kraken: { adapter: () => krakenAdapter(), defaults: KRAKEN_DEFAULTS },
} as const;

/** Each WebSocket provider: its adapter and its documented defaults. */
const WS_PROVIDERS = {
  binance_ws: { adapter: binanceWsAdapter, defaults: BINANCE_WS_DEFAULTS },
  coinbase_ws: { adapter: coinbaseWsAdapter, defaults: COINBASE_WS_DEFAULTS },
  kraken_ws: { adapter: krakenWsAdapter, defaults: KRAKEN_WS_DEFAULTS },
} as const;

/** The URL a networked source connects to (its base_url/url, else the provider's default). */
export function sourceUrl(config: SourceConfig): string | undefined {
  const own = config as { base_url?: string; url?: string };
  if (config.type in REST_PROVIDERS) {
    return own.base_url ??
      REST_PROVIDERS[config.type as keyof typeof REST_PROVIDERS].defaults.baseUrl;
  }
  if (config.type in WS_PROVIDERS) {
    return own.url ?? WS_PROVIDERS[config.type as keyof typeof WS_PROVIDERS].defaults.url;
  }
  return undefined;
}

export function createSource(name: string, config: SourceConfig, deps: SourceDeps = {}): Source {
  const clock = deps.clock ?? realClock;
  switch (config.type) {
    case "simulated":
      return new SimulatedSource(name, config, clock);
    case "replay":
      return new ReplaySource(name, config, clock);
    case "binance_ws":
    case "coinbase_ws":
    case "kraken_ws": {
      const { adapter, defaults } = WS_PROVIDERS[config.type];
      const maxConnectionSecs = config.max_connection_secs ?? defaults.maxConnectionSecs;
      return new WsSource(name, adapter(), {
        symbols: config.symbols,
        url: config.url ?? defaults.url,
        silenceTimeoutMs: config.silence_timeout_secs * 1000,
        reconnectMaxMs: config.reconnect_max_secs * 1000,
        maxConnectionMs: maxConnectionSecs === undefined ? undefined : maxConnectionSecs * 1000,
        maxClockSkewMs: config.max_clock_skew_secs * 1000,
      }, { clock, logger: deps.logger ?? silentLogger });
    }
    default: {
      const provider = REST_PROVIDERS[config.type];
      const { defaults } = provider;
      return new RestSource(
        name,
        (provider.adapter as (c: SourceConfig) => RestAdapter)(config),
        {
          symbols: config.symbols,
          baseUrl: config.base_url ?? defaults.baseUrl,
          pollIntervalMs: (config.poll_interval_secs ?? defaults.pollIntervalSecs) * 1000,
          requestsPerMinute: config.requests_per_minute ?? defaults.requestsPerMinute,
          requestTimeoutMs: config.request_timeout_ms,
          maxResponseBytes: config.max_response_bytes,
          maxClockSkewMs: config.max_clock_skew_secs * 1000,
        },
        { clock, logger: deps.logger ?? silentLogger, apiKey: deps.apiKey, fetch: deps.fetch },
      );
    }
  }
}
