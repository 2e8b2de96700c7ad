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
  restTicker,
  safeInteger,
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
function lookup(symbols: readonly string[]): Map<string, SymbolParts> {
  const map = new Map<string, SymbolParts>();
  for (const symbol of symbols) {
    const [base, quote] = symbol.split("-");
    if (!base || !quote) continue;
    const parts = joinSymbol(base, quote);
    const native = binanceSymbol(parts.symbol);
    if (!map.has(native)) map.set(native, parts);
  }
  return map;
}

function binanceRequests(symbols: readonly string[]): HttpRequest[] {
  const natives = [...lookup(symbols).keys()];
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
  const configured = lookup(context.symbols);
  for (const response of responses) {
    const body = response?.body;
    if (!Array.isArray(body)) {
      unusable.push(reject(body, [`body: expected an array of tickers, got ${kindOf(body)}`]));
      continue;
    }
    for (const entry of body) {
      const read = readTicker(entry, configured, context.ingestTime);
      if ("problems" in read) unusable.push(reject(entry, read.problems));
      else records.push(read);
    }
  }
  return { records, unusable };
}

function readTicker(
  entry: unknown,
  configured: ReadonlyMap<string, SymbolParts>,
  ingestTime: number,
): TickerRecord | Problems {
  if (!isObject(entry)) return { problems: [`ticker: expected an object, got ${kindOf(entry)}`] };
  const native = entry.symbol;
  if (typeof native !== "string" || native === "") {
    return { problems: [`symbol: expected a Binance symbol, got ${preview(native)}`] };
  }
  const parts = configured.get(native);
  if (parts === undefined) {
    return { problems: [`symbol: ${preview(native)} is not one of the configured symbols`] };
  }
  // Decimal strings (a plain JSON number is accepted too); times and ids are JSON integers.
  const problems: string[] = [];
  const decimal = (field: string) =>
    optional(entry[field], decimalNumber, `${field}: expected a finite decimal, got`, problems);
  const integer = (field: string) =>
    optional(entry[field], safeInteger, `${field}: expected an integer, got`, problems);
  const price = decimal("lastPrice");
  if (price === null && problems.length === 0) problems.push("lastPrice: missing");
  const bid = decimal("bidPrice");
  const ask = decimal("askPrice");
  const open = decimal("openPrice");
  const high = decimal("highPrice");
  const low = decimal("lowPrice");
  const volumeBase = decimal("volume");
  const volumeQuote = decimal("quoteVolume");
  const change = decimal("priceChangePercent");
  const closeTime = integer("closeTime");
  const lastId = integer("lastId");
  if (problems.length > 0 || price === null) return { problems };
  return restTicker(parts, {
    source: "binance",
    source_kind: "exchange",
    source_symbol: native,
    price,
    bid: bid === 0 ? null : bid,
    ask: ask === 0 ? null : ask,
    open_24h: open,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volumeBase,
    volume_24h_quote: volumeQuote,
    change_pct_24h: change,
    change_window: "rolling_24h",
    event_time: closeTime,
    ingest_time: ingestTime,
    seq: lastId,
  });
}
