/**
 * Kraken Spot REST adapter (exchange-apis.md §6, §9). One request per poll:
 * `/0/public/Ticker?pair=XBTUSD,ETHUSD`, or without `pair` (every pair, filtered locally) when
 * more than {@link KRAKEN_MAX_PAIRS} symbols are configured, since very long pair lists have
 * produced HTTP 520 (home-assistant/core#142910).
 *
 * Result keys are Kraken's own pair names, not what was sent: the altname (`XBTUSD`, `XDGUSD`,
 * `SOLUSD`, `XBTUSDT`) or the legacy form with X/Z-prefixed 4-letter codes (`XXBTZUSD`,
 * `XETHXXBT`). Each key is matched exactly against both forms of every configured symbol, so
 * USD and USDT never meet. Kraken reports errors inside HTTP 200 bodies (`error: ["E…"]`).
 */
import type { TickerRecord } from "../record/mod.ts";
import {
  changePercent,
  clipMessage,
  decimalNumber,
  finiteOrNull,
  isObject,
  jsonText,
  kindOf,
  optional,
  type Problems,
  reject,
  tickerRecord,
} from "./fields.ts";
import type {
  BodyError,
  HttpRequest,
  NormalizeContext,
  Normalized,
  PollResponse,
  RestAdapter,
  Unusable,
} from "./rest.ts";
import { joinSymbol, KRAKEN_ASSETS, splitSymbol } from "./symbols.ts";

export const KRAKEN_DEFAULTS = {
  baseUrl: "https://api.kraken.com",
  /**
   * Kraken's public limits are per IP and not published as a number; ccxt budgets ≈ 1 req/s
   * (exchange-apis.md §1, §6). 30/min is half of that.
   */
  requestsPerMinute: 30,
  /** One request per poll covers every symbol: 10 s is 6 req/min, well inside the budget. */
  pollIntervalSecs: 10,
} as const;

/** Above this many symbols, request every pair and filter locally (long lists → HTTP 520). */
export const KRAKEN_MAX_PAIRS = 20;

export const KRAKEN_TICKER_PATH = "/0/public/Ticker";

/** Body errors that mean "slow down" rather than "this request is wrong". */
const THROTTLED = /^E(General:Too many requests|API:Rate limit exceeded)/i;

export function krakenAdapter(): RestAdapter {
  return {
    source: "kraken",
    requests: krakenRequests,
    bodyError: krakenBodyError,
    normalize: normalizeKraken,
  };
}

/** Kraken's code for a canonical asset (BTC → XBT, DOGE → XDG). */
function krakenAsset(code: string): string {
  return KRAKEN_ASSETS[code] ?? code;
}

/** The altname Kraken accepts in `pair=` and often returns as the key: `XBTUSD`. */
export function krakenPairName(symbol: string): string {
  const { base, quote } = splitSymbol(symbol);
  return `${krakenAsset(base)}${krakenAsset(quote ?? "")}`;
}

/**
 * Every key Kraken may use in a Ticker result for this symbol: the altname and the legacy
 * X/Z-prefixed form (`XXBTZUSD`, `XETHXXBT`: X for crypto, Z for fiat). The legacy form exists
 * only for old 3-letter assets, so it is generated only for those, with both prefixes for the
 * quote rather than a fiat list that could go stale; the match is exact, so an extra spelling
 * can never catch another symbol's entry.
 */
export function krakenResultKeys(symbol: string): string[] {
  const { base, quote } = splitSymbol(symbol);
  const [b, q] = [krakenAsset(base), krakenAsset(quote ?? "")];
  const keys = [`${b}${q}`];
  if (b.length === 3 && q.length === 3) {
    keys.push(`X${b}Z${q}`, `X${b}X${q}`);
  }
  return keys;
}

function krakenRequests(symbols: readonly string[]): HttpRequest[] {
  const unique = [...new Set(symbols)];
  if (unique.length === 0) return [];
  if (unique.length > KRAKEN_MAX_PAIRS) return [{ path: KRAKEN_TICKER_PATH }];
  return [{ path: KRAKEN_TICKER_PATH, query: { pair: unique.map(krakenPairName).join(",") } }];
}

/**
 * A non-empty `error` array. Entries are `<E|W><Category>:<message>`; warnings alone (W…) do
 * not fail the poll. Rate-limit errors are throttled, everything else failed.
 */
function krakenBodyError(body: unknown): BodyError | undefined {
  if (!isObject(body) || !Array.isArray(body.error) || body.error.length === 0) return undefined;
  const messages = body.error.map((e) => typeof e === "string" ? e : jsonText(e));
  const errors = messages.filter((m) => !m.startsWith("W"));
  if (errors.length === 0) return undefined;
  const message = clipMessage(errors.join("; "));
  return { kind: errors.some((m) => THROTTLED.test(m)) ? "throttled" : "failed", message };
}

function normalizeKraken(
  responses: readonly PollResponse[],
  context: NormalizeContext,
): Normalized {
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  const byKey = new Map<string, string>();
  for (const symbol of context.symbols) {
    for (const key of krakenResultKeys(symbol)) if (!byKey.has(key)) byKey.set(key, symbol);
  }
  const seen = new Set<string>();

  for (const response of responses) {
    const body = response?.body;
    // With an explicit pair list every key should be one we asked for; with "all pairs" the
    // rest of the market is expected and skipped.
    const explicit = typeof response?.request?.query?.pair === "string";
    if (!isObject(body) || !isObject(body.result)) {
      const result = isObject(body) ? body.result : body;
      const problems = [
        `result: expected an object, got ${result === undefined ? "nothing" : kindOf(result)}`,
      ];
      if (isObject(body) && Array.isArray(body.error) && body.error.length > 0) {
        problems.push(`error: ${clipMessage(jsonText(body.error))}`);
      }
      unusable.push(reject(body, problems));
      continue;
    }
    for (const [key, entry] of Object.entries(body.result)) {
      const symbol = byKey.get(key);
      if (symbol === undefined) {
        if (explicit) {
          unusable.push(reject(entry, [`${key}: unknown pair, not a configured symbol`]));
        }
        continue;
      }
      if (seen.has(symbol)) {
        unusable.push(reject(entry, [`${key}: a second entry for ${symbol}`]));
        continue;
      }
      const read = readEntry(entry);
      if ("problems" in read) {
        unusable.push(reject(entry, read.problems.map((p) => `${key}: ${p}`)));
        continue;
      }
      seen.add(symbol);
      const { base, quote } = splitSymbol(symbol);
      const parts = joinSymbol(krakenAsset(base), krakenAsset(quote ?? ""));
      records.push(tickerRecord(parts, {
        source: "kraken",
        source_kind: "exchange",
        source_symbol: key,
        price: read.price,
        bid: read.bid,
        ask: read.ask,
        // No open_24h: `o` is the open of the UTC day, not of a rolling 24 h window.
        high_24h: read.high,
        low_24h: read.low,
        volume_24h_base: read.volume,
        volume_24h_quote: read.volume !== null && read.vwap !== null
          ? finiteOrNull(read.volume * read.vwap)
          : null,
        change_pct_24h: changePercent(read.price, read.dayOpen),
        change_window: "utc_day",
        ingest_time: context.ingestTime,
      }));
    }
  }
  return { records, unusable };
}

interface Entry {
  readonly price: number;
  readonly bid: number | null;
  readonly ask: number | null;
  readonly high: number | null;
  readonly low: number | null;
  readonly volume: number | null;
  readonly vwap: number | null;
  readonly dayOpen: number | null;
}

/** One pair's ticker: `c[0]` is required, the other fields are null when absent. */
function readEntry(entry: unknown): Entry | Problems {
  if (!isObject(entry)) return { problems: [`expected an object, got ${kindOf(entry)}`] };
  const problems: string[] = [];
  const element = (field: string, index: number, name: string): number | null => {
    const array = entry[field];
    if (array === undefined || array === null) return null;
    const label = `${field}[${index}] (${name})`;
    if (!Array.isArray(array)) {
      problems.push(`${label}: ${field} is ${kindOf(array)}, expected an array`);
      return null;
    }
    return decimal(array[index], label, problems);
  };
  const price = element("c", 0, "price");
  if (price === null && !problems.some((p) => p.startsWith("c"))) {
    problems.push("c[0] (price): missing");
  }
  const bid = element("b", 0, "bid");
  const ask = element("a", 0, "ask");
  const high = element("h", 1, "high_24h");
  const low = element("l", 1, "low_24h");
  const volume = element("v", 1, "volume_24h_base");
  const vwap = element("p", 1, "vwap_24h");
  const dayOpen = decimal(entry.o, "o (UTC-day open)", problems);
  if (problems.length > 0 || price === null) return { problems };
  return { price, bid, ask, high, low, volume, vwap, dayOpen };
}

/** Kraken sends decimal strings (a JSON number is accepted too). Absent/null → null. */
function decimal(value: unknown, label: string, problems: string[]): number | null {
  return optional(value, decimalNumber, `${label}: not a finite number:`, problems);
}
