/**
 * Binance Spot REST adapter (exchange-apis.md §3, §9): `GET /api/v3/ticker/24hr` with
 * `symbols=["BTCUSDT",…]` (a JSON array; the engine URL-encodes query values), rolling 24 h.
 *
 * `BTCUSDT` cannot be split reliably, so nothing is split: the lookup from Binance's symbol to
 * the canonical one is built from the configured list (`BTC-USDT` → `BTCUSDT`). All prices and
 * volumes are decimal strings; `lastPrice` is required, every other field may be absent (the
 * MINI form omits bid/ask and the change), but a present value that is not a finite decimal
 * makes the entry unusable. A bid or ask of exactly 0 is Binance's "empty book side" and maps
 * to null rather than sinking the record in validation.
 */
import type { TickerRecord } from "../record/mod.ts";
import {
  clipMessage,
  decimalNumber,
  isObject,
  kindOf,
  optional,
  preview,
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
import { joinSymbol, type SymbolParts } from "./symbols.ts";

export const BINANCE_DEFAULTS = {
  /** Also api1..api4, api-gcp, or the market-data-only data-api.binance.vision (§3). */
  baseUrl: "https://api.binance.com",
  /**
   * The limit is REQUEST_WEIGHT 6,000 per minute per IP (§3, binance-spot-api-docs
   * rest-api.md). One ticker/24hr call for 1–20 symbols weighs 2, and requests carry at most
   * 20 symbols, so 60 requests/min is 120 weight/min: 2 % of the limit, leaving the IP's
   * budget to anything else that shares it.
   */
  requestsPerMinute: 60,
  /** 24 h tickers move with every trade; 5 s at ≤ 20 symbols is 12 requests (24 weight)/min. */
  pollIntervalSecs: 5,
} as const;

export const BINANCE_TICKER_PATH = "/api/v3/ticker/24hr";
/** Weight 2 covers 1–20 symbols; 21–100 weigh 40 (§3), so bigger lists are split. */
export const BINANCE_SYMBOLS_PER_REQUEST = 20;
/** `code` in an error body that means over the weight limit (errors.md `TOO_MANY_REQUESTS`). */
const TOO_MANY_REQUESTS = -1003;

export function binanceAdapter(): RestAdapter {
  return {
    source: "binance",
    requests: binanceRequests,
    bodyError: binanceBodyError,
    normalize: normalizeBinance,
  };
}

/** Binance's own symbol for a canonical one: `BTC-USDT` → `BTCUSDT`. */
export function binanceSymbol(symbol: string): string {
  return symbol.replace("-", "").toUpperCase();
}

/** Binance symbol → canonical parts, for the configured list (first one wins on a clash). */
/** Built once per symbol list (the WebSocket adapter looks it up on every message). */
const symbolsCache = new WeakMap<readonly string[], Map<string, SymbolParts>>();

/** `BTCUSDT` → the canonical parts, from the configured list (`BTCUSDT` cannot be split). */
export function binanceSymbols(symbols: readonly string[]): ReadonlyMap<string, SymbolParts> {
  const cached = symbolsCache.get(symbols);
  if (cached) return cached;
  const map = new Map<string, SymbolParts>();
  for (const symbol of symbols) {
    const [base, quote] = symbol.split("-");
    if (!base || !quote) continue;
    const parts = joinSymbol(base, quote);
    const native = binanceSymbol(parts.symbol);
    if (!map.has(native)) map.set(native, parts);
  }
  symbolsCache.set(symbols, map);
  return map;
}

function binanceRequests(symbols: readonly string[]): HttpRequest[] {
  const natives = [...binanceSymbols(symbols).keys()];
  const requests: HttpRequest[] = [];
  for (let i = 0; i < natives.length; i += BINANCE_SYMBOLS_PER_REQUEST) {
    requests.push({
      path: BINANCE_TICKER_PATH,
      query: { symbols: JSON.stringify(natives.slice(i, i + BINANCE_SYMBOLS_PER_REQUEST)) },
    });
  }
  return requests;
}

/** `{"code":-1003,"msg":"Too many requests…"}` is throttling; any other code/msg a failure. */
function binanceBodyError(body: unknown): BodyError | undefined {
  if (!isObject(body) || typeof body.code !== "number" || typeof body.msg !== "string") {
    return undefined;
  }
  const message = clipMessage(`code ${body.code}: ${body.msg || "(no message)"}`);
  return { kind: body.code === TOO_MANY_REQUESTS ? "throttled" : "failed", message };
}

function normalizeBinance(
  responses: readonly PollResponse[],
  context: NormalizeContext,
): Normalized {
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  const configured = binanceSymbols(context.symbols);
  for (const response of responses) {
    const body = response?.body;
    if (!Array.isArray(body)) {
      unusable.push(reject(body, [`body: expected an array of tickers, got ${kindOf(body)}`]));
      continue;
    }
    for (const entry of body) {
      const read = isObject(entry)
        ? readBinanceTicker(entry, REST_FIELDS, configured, context.ingestTime, "rest")
        : { problems: [`ticker: expected an object, got ${kindOf(entry)}`] };
      if ("problems" in read) unusable.push(reject(entry, read.problems));
      else records.push(read);
    }
  }
  return { records, unusable };
}

/** Where a ticker's fields are: REST `/ticker/24hr` names, or the WebSocket `@ticker` letters. */
export interface BinanceTickerFields {
  readonly symbol: string;
  readonly price: string;
  readonly bid: string;
  readonly ask: string;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly change: string;
  readonly time: string;
  readonly lastTrade: string;
}

const REST_FIELDS: BinanceTickerFields = {
  symbol: "symbol",
  price: "lastPrice",
  bid: "bidPrice",
  ask: "askPrice",
  open: "openPrice",
  high: "highPrice",
  low: "lowPrice",
  volume: "volume",
  quoteVolume: "quoteVolume",
  change: "priceChangePercent",
  time: "closeTime",
  lastTrade: "lastId",
};

/** One Binance ticker (REST or WebSocket) as a record, or the problems that prevent it. */
export function readBinanceTicker(
  entry: Record<string, unknown>,
  names: BinanceTickerFields,
  configured: ReadonlyMap<string, SymbolParts>,
  ingestTime: number,
  channel: TickerRecord["channel"],
): TickerRecord | Problems {
  const native = entry[names.symbol];
  if (typeof native !== "string" || native === "") {
    return { problems: [`${names.symbol}: expected a Binance symbol, got ${preview(native)}`] };
  }
  const parts = configured.get(native);
  if (parts === undefined) {
    return {
      problems: [`${names.symbol}: ${preview(native)} is not one of the configured symbols`],
    };
  }
  // Decimal strings (a plain JSON number is accepted too); times and ids are JSON integers.
  const problems: string[] = [];
  const decimal = (field: string) =>
    optional(entry[field], decimalNumber, `${field}: expected a finite decimal, got`, problems);
  const integer = (field: string) =>
    optional(entry[field], safeInteger, `${field}: expected an integer, got`, problems);
  const price = decimal(names.price);
  if (price === null && problems.length === 0) problems.push(`${names.price}: missing`);
  const bid = decimal(names.bid);
  const ask = decimal(names.ask);
  const open = decimal(names.open);
  const high = decimal(names.high);
  const low = decimal(names.low);
  const volumeBase = decimal(names.volume);
  const volumeQuote = decimal(names.quoteVolume);
  const change = decimal(names.change);
  const time = integer(names.time);
  const lastTrade = integer(names.lastTrade);
  if (problems.length > 0 || price === null) return { problems };
  return tickerRecord(parts, {
    source: "binance",
    source_kind: "exchange",
    source_symbol: native,
    price,
    // 0 is Binance's "empty book side", not a price.
    bid: bid === 0 ? null : bid,
    ask: ask === 0 ? null : ask,
    open_24h: open,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volumeBase,
    volume_24h_quote: volumeQuote,
    change_pct_24h: change,
    change_window: "rolling_24h",
    event_time: time,
    ingest_time: ingestTime,
    // -1 means "no trade in the window".
    seq: lastTrade !== null && lastTrade >= 0 ? lastTrade : null,
  }, channel);
}
