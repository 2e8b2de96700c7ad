/**
 * Coinbase Exchange REST adapter (exchange-apis.md §5, §9). There is no multi-product ticker:
 * each configured product costs two requests per poll, `/products/{id}/ticker` (last trade,
 * best bid/ask, 24 h base volume, trade id and time) and `/products/{id}/stats` (24 h open,
 * high, low, last). `normalize` pairs them up by product, using each response's request path.
 *
 * Every field of both bodies is treated as optional (illiquid products omit `time` and
 * `trade_id`, cryptofeed #909): only a usable `price` is required. A product whose stats are
 * missing or bad still yields a record from its ticker, with the stats fields null; bad stats
 * are also reported as unusable so the problem is visible.
 */
import type { TickerRecord } from "../record/mod.ts";
import {
  changePercent,
  clipMessage,
  decimalNumber,
  isObject,
  kindOf,
  optional,
  type Problems,
  reject,
  safeInteger,
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
import { joinSymbol } from "./symbols.ts";

export const COINBASE_DEFAULTS = {
  baseUrl: "https://api.exchange.coinbase.com",
  /**
   * Public limit: 10 req/s per IP, bursts to 15 (token bucket;
   * https://docs.cdp.coinbase.com/exchange/rest-api/rate-limits, exchange-apis.md §5).
   * 300/min = 5 req/s, half the sustained rate, leaves room for other clients on the same IP.
   */
  requestsPerMinute: 300,
  /**
   * Two requests per product per poll: at 300/min, a 5 s poll covers up to 12 products
   * (24 requests) within budget; more products need a longer interval.
   */
  pollIntervalSecs: 5,
} as const;

export function coinbaseAdapter(): RestAdapter {
  return {
    source: "coinbase",
    requests: coinbaseRequests,
    bodyError: coinbaseBodyError,
    normalize: normalizeCoinbase,
  };
}

/** Coinbase product ids are already canonical `BASE-QUOTE` (`BTC-USD`). */
function coinbaseRequests(symbols: readonly string[]): HttpRequest[] {
  const requests: HttpRequest[] = [];
  for (const symbol of new Set(symbols)) {
    const product = encodeURIComponent(symbol);
    requests.push({ path: `/products/${product}/ticker` }, { path: `/products/${product}/stats` });
  }
  return requests;
}

/** Error bodies are `{"message": "…"}`; 429 bodies say "rate limit". */
function coinbaseBodyError(body: unknown): BodyError | undefined {
  if (!isObject(body) || typeof body.message !== "string") return undefined;
  const message = clipMessage(body.message) || "(empty message)";
  return { kind: /rate.?limit/i.test(message) ? "throttled" : "failed", message };
}

interface ProductResponses {
  ticker?: unknown;
  stats?: unknown;
}

const PATH = /^\/products\/([^/]+)\/(ticker|stats)$/;

function normalizeCoinbase(
  responses: readonly PollResponse[],
  context: NormalizeContext,
): Normalized {
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  const configured = new Set(context.symbols);
  const products = new Map<string, ProductResponses>();

  for (const response of responses) {
    const path = typeof response?.request?.path === "string" ? response.request.path : "";
    const match = PATH.exec(path);
    const product = match ? decodePathPart(match[1]) : undefined;
    if (!match || product === undefined) {
      unusable.push(
        reject(response?.body, [`request ${JSON.stringify(path)}: not a ticker or stats path`]),
      );
      continue;
    }
    const entry = products.get(product) ?? {};
    entry[match[2] as "ticker" | "stats"] = response.body;
    products.set(product, entry);
  }

  for (const [product, { ticker, stats }] of products) {
    // A configured product without a ticker response yields nothing: there is no price.
    if (ticker === undefined) continue;
    const parts = productParts(product);
    if (parts === undefined) {
      unusable.push(reject(ticker, [`${product}: product id is not BASE-QUOTE`]));
      continue;
    }
    if (!configured.has(parts.symbol)) {
      unusable.push(reject(ticker, [`${product}: ${parts.symbol} is not a configured symbol`]));
      continue;
    }
    const tick = readTicker(ticker);
    if ("problems" in tick) {
      unusable.push(reject(ticker, tick.problems.map((p) => `${product} ticker: ${p}`)));
      continue;
    }
    let day: Stats = NO_STATS;
    if (stats !== undefined) {
      const read = readStats(stats);
      if ("problems" in read) {
        unusable.push(reject(stats, read.problems.map((p) => `${product} stats: ${p}`)));
      } else {
        day = read;
      }
    }
    records.push(tickerRecord(parts, {
      source: "coinbase",
      source_kind: "exchange",
      source_symbol: product,
      price: tick.price,
      bid: tick.bid,
      ask: tick.ask,
      open_24h: day.open,
      high_24h: day.high,
      low_24h: day.low,
      volume_24h_base: tick.volume,
      change_pct_24h: day.changePct,
      change_window: "computed",
      event_time: tick.time,
      ingest_time: context.ingestTime,
      seq: tick.tradeId,
    }));
  }
  return { records, unusable };
}

interface Ticker {
  readonly price: number;
  readonly bid: number | null;
  readonly ask: number | null;
  readonly volume: number | null;
  readonly time: number | null;
  readonly tradeId: number | null;
}

function readTicker(body: unknown): Ticker | Problems {
  if (!isObject(body)) return { problems: [`expected an object, got ${kindOf(body)}`] };
  const problems: string[] = [];
  const price = decimal(body, "price", problems);
  if (price === null && !problems.some((p) => p.startsWith("price:"))) {
    problems.push("price: missing");
  }
  const bid = decimal(body, "bid", problems);
  const ask = decimal(body, "ask", problems);
  const volume = decimal(body, "volume", problems);
  const tradeId = integer(body, "trade_id", problems);
  const time = optional(
    body.time,
    (value) => typeof value === "string" ? isoToMs(value) : null,
    "time: not an ISO-8601 UTC time:",
    problems,
  );
  if (problems.length > 0 || price === null) return { problems };
  return { price, bid, ask, volume, time, tradeId };
}

interface Stats {
  readonly open: number | null;
  readonly high: number | null;
  readonly low: number | null;
  readonly changePct: number | null;
}

const NO_STATS: Stats = { open: null, high: null, low: null, changePct: null };

/** Stats prices must be positive when present: a zero open would sink the whole record. */
function readStats(body: unknown): Stats | Problems {
  if (!isObject(body)) return { problems: [`expected an object, got ${kindOf(body)}`] };
  const problems: string[] = [];
  const positive = (field: string): number | null => {
    const value = decimal(body, field, problems);
    if (value !== null && !(value > 0)) {
      problems.push(`${field}: must be > 0, got ${value}`);
      return null;
    }
    return value;
  };
  const open = positive("open");
  const high = positive("high");
  const low = positive("low");
  const last = positive("last");
  if (problems.length > 0) return { problems };
  return { open, high, low, changePct: changePercent(last, open) };
}

/** `BTC-USD` → canonical parts; undefined if it is not two non-empty codes. */
function productParts(product: string): ReturnType<typeof joinSymbol> | undefined {
  const pieces = product.split("-");
  if (pieces.length !== 2 || !pieces.every((p) => /^[A-Za-z0-9]{1,20}$/.test(p))) {
    return undefined;
  }
  return joinSymbol(pieces[0], pieces[1]);
}

function decodePathPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * ISO-8601 with up to nanoseconds → epoch ms, truncating below the millisecond (Coinbase sends
 * µs: `2026-11-24T12:00:00.123456Z` → …123). Null when it does not parse or is out of range.
 */
export function isoToMs(text: string): number | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  if (second > 60) return null;
  const ms = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  let offset = 0;
  if (m[8] !== "Z") {
    const sign = m[8][0] === "-" ? -1 : 1;
    const digits = m[8].slice(1).replace(":", "");
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const value = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
  return Number.isSafeInteger(value) ? value : null;
}

// ---- field readers: Coinbase sends numbers as decimal strings (a JSON number is accepted) ----

function decimal(body: Record<string, unknown>, field: string, problems: string[]): number | null {
  return optional(body[field], decimalNumber, `${field}: not a finite number:`, problems);
}

/** An integer field (a JSON number or a digit string) that fits in a safe integer. */
function integer(body: Record<string, unknown>, field: string, problems: string[]): number | null {
  return optional(body[field], integerOrDigits, `${field}: not an integer:`, problems);
}

/** Coinbase sends integers as JSON numbers; a digit string is accepted too. */
export function integerOrDigits(value: unknown): number | null {
  return safeInteger(
    typeof value === "string" && /^-?\d{1,16}$/.test(value) ? Number(value) : value,
  );
}
