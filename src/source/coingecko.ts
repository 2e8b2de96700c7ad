/**
 * CoinGecko REST adapter (exchange-apis.md §2, §9): `GET /coins/markets`, one request per
 * distinct quote (`vs_currency`, lower-case) for the configured symbols' coin ids.
 *
 * CoinGecko's `symbol` is not unique ("btc" names several coins), so coins are addressed by id
 * through an explicit base → id table (built-in, extended or overridden by the source's `ids`
 * config). A base without an id is not requested; the engine reports it as missing.
 *
 * An element is mapped back to its configured symbol by its `id` and the request's
 * `vs_currency`. `current_price` is required; every other numeric field may be absent or null,
 * but a present value of the wrong type makes the element unusable (it suggests the element is
 * not what we think it is). A missing or unparsable `last_updated` gives a null `event_time`.
 */
import type { TickerRecord } from "../record/mod.ts";
import {
  clipMessage,
  isObject,
  jsonText,
  kindOf,
  numberField,
  preview,
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
import { canonicalAsset, joinSymbol, type SymbolParts } from "./symbols.ts";

export const COINGECKO_DEFAULTS = {
  /** Keyless and Demo host; Pro keys need `https://pro-api.coingecko.com/api/v3` (§2). */
  baseUrl: "https://api.coingecko.com/api/v3",
  /**
   * Keyless calls share an IP-based budget, observed as low as 5–50/min; the docs' advice is
   * ≤ 10–30 req/min keyless (exchange-apis.md §2 "Rate limits"). 10/min is the safe end.
   */
  requestsPerMinute: 10,
  /**
   * Public responses are edge-cached for about 60 s (§2; UNCONFIRMED for /coins/markets):
   * polling faster only repeats `last_updated`.
   */
  pollIntervalSecs: 60,
} as const;

/**
 * Built-in canonical base → CoinGecko coin id. Ids are stable slugs, unlike symbols; the
 * source's `ids` config adds to or overrides this table.
 */
export const COINGECKO_IDS: Readonly<Record<string, string>> = {
  BTC: "bitcoin",
  ETH: "ethereum",
  SOL: "solana",
  XRP: "ripple",
  DOGE: "dogecoin",
  ADA: "cardano",
  BNB: "binancecoin",
  LTC: "litecoin",
  BCH: "bitcoin-cash",
  DOT: "polkadot",
  AVAX: "avalanche-2",
  LINK: "chainlink",
  TRX: "tron",
  XLM: "stellar",
  ATOM: "cosmos",
  SHIB: "shiba-inu",
  USDT: "tether",
  USDC: "usd-coin",
};

export const COINGECKO_MARKETS_PATH = "/coins/markets";
/** `per_page` maximum (§2); also the most ids put in one request. */
const PER_PAGE = 250;

export interface CoingeckoOptions {
  /** Canonical base asset → CoinGecko coin id, over the built-in {@link COINGECKO_IDS}. */
  readonly ids?: Readonly<Record<string, string>>;
}

export function coingeckoAdapter(options: CoingeckoOptions = {}): RestAdapter {
  const ids = new Map<string, string>(Object.entries(COINGECKO_IDS));
  for (const [base, id] of Object.entries(options.ids ?? {})) ids.set(canonicalAsset(base), id);
  return {
    source: "coingecko",
    authorize: (apiKey) => ({ "x-cg-demo-api-key": apiKey }),
    requests: (symbols) => coingeckoRequests(symbols, ids),
    bodyError: coingeckoBodyError,
    normalize: (responses, context) => normalizeCoingecko(responses, context, ids),
  };
}

/** Configured symbols grouped by `vs_currency` (lower-case quote), each coin id once. */
function byVsCurrency(
  symbols: readonly string[],
  ids: ReadonlyMap<string, string>,
): Map<string, Map<string, SymbolParts>> {
  const groups = new Map<string, Map<string, SymbolParts>>();
  for (const symbol of symbols) {
    const [base, quote] = symbol.split("-");
    if (!base || !quote) continue;
    const parts = joinSymbol(base, quote);
    const id = ids.get(parts.base);
    if (id === undefined) continue;
    const vs = parts.quote.toLowerCase();
    const group = groups.get(vs) ?? new Map<string, SymbolParts>();
    if (!group.has(id)) group.set(id, parts);
    groups.set(vs, group);
  }
  return groups;
}

function coingeckoRequests(
  symbols: readonly string[],
  ids: ReadonlyMap<string, string>,
): HttpRequest[] {
  const requests: HttpRequest[] = [];
  for (const [vs, coins] of byVsCurrency(symbols, ids)) {
    const list = [...coins.keys()];
    for (let i = 0; i < list.length; i += PER_PAGE) {
      requests.push({
        path: COINGECKO_MARKETS_PATH,
        query: {
          vs_currency: vs,
          ids: list.slice(i, i + PER_PAGE).join(","),
          price_change_percentage: "1h,24h,7d",
          per_page: String(PER_PAGE),
        },
      });
    }
  }
  return requests;
}

/**
 * `{"status":{"error_code":429,"error_message":"…"}}` (429 = throttled; 10002/10005/10010/10011
 * = key or plan problems), and `{"error":"invalid vs_currency"}` (§2, shape UNCONFIRMED).
 * The normal body is an array.
 */
function coingeckoBodyError(body: unknown): BodyError | undefined {
  if (!isObject(body)) return undefined;
  const status = body.status;
  if (isObject(status) && (status.error_code !== undefined || status.error_message !== undefined)) {
    const code = Number(status.error_code);
    const text = typeof status.error_message === "string" ? status.error_message : "";
    const message = clipMessage(
      `error_code ${jsonText(status.error_code)}: ${text || "(no message)"}`,
    );
    return { kind: code === 429 ? "throttled" : "failed", message };
  }
  if (typeof body.error === "string") {
    return { kind: "failed", message: clipMessage(body.error) || "(empty error)" };
  }
  return undefined;
}

function normalizeCoingecko(
  responses: readonly PollResponse[],
  context: NormalizeContext,
  ids: ReadonlyMap<string, string>,
): Normalized {
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  const groups = byVsCurrency(context.symbols, ids);
  for (const response of responses) {
    const body = response?.body;
    const vs = response?.request?.query?.vs_currency;
    if (typeof vs !== "string" || vs === "") {
      unusable.push(reject(body, ["request: no vs_currency"]));
      continue;
    }
    if (!Array.isArray(body)) {
      unusable.push(reject(body, [`body: expected an array of coins, got ${kindOf(body)}`]));
      continue;
    }
    const coins = groups.get(vs) ?? new Map<string, SymbolParts>();
    for (const entry of body) {
      const read = readCoin(entry, vs, coins, context.ingestTime);
      if ("problems" in read) unusable.push(reject(entry, read.problems));
      else records.push(read);
    }
  }
  return { records, unusable };
}

function readCoin(
  entry: unknown,
  vs: string,
  coins: ReadonlyMap<string, SymbolParts>,
  ingestTime: number,
): TickerRecord | Problems {
  if (!isObject(entry)) return { problems: [`coin: expected an object, got ${kindOf(entry)}`] };
  const id = entry.id;
  if (typeof id !== "string" || id === "") {
    return { problems: [`id: expected a coin id, got ${preview(id)}`] };
  }
  const parts = coins.get(id);
  if (parts === undefined) {
    return { problems: [`id: ${preview(id)} is not a configured coin for vs_currency ${vs}`] };
  }
  const problems: string[] = [];
  const price = numberField(entry, "current_price", problems);
  if (price === null && problems.length === 0) problems.push("current_price: missing");
  const high = numberField(entry, "high_24h", problems);
  const low = numberField(entry, "low_24h", problems);
  const volume = numberField(entry, "total_volume", problems);
  const marketCap = numberField(entry, "market_cap", problems);
  const change1h = numberField(entry, "price_change_percentage_1h_in_currency", problems);
  // Both carry the 24 h change in the vs currency; the plain field is the documented one.
  const change24h = numberField(entry, "price_change_percentage_24h", problems) ??
    numberField(entry, "price_change_percentage_24h_in_currency", problems);
  const change7d = numberField(entry, "price_change_percentage_7d_in_currency", problems);
  if (problems.length > 0 || price === null) return { problems };
  return tickerRecord(parts, {
    source: "coingecko",
    source_kind: "aggregator",
    source_symbol: id,
    price,
    high_24h: high,
    low_24h: low,
    volume_24h_quote: volume,
    market_cap_usd: parts.quote === "USD" ? marketCap : null,
    change_pct_1h: change1h,
    change_pct_24h: change24h,
    change_pct_7d: change7d,
    change_window: "rolling_24h",
    event_time: isoTime(entry.last_updated),
    ingest_time: ingestTime,
  });
}

/** `last_updated` (ISO-8601, ms, `Z`) → epoch ms; null when absent or unparsable. */
function isoTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isSafeInteger(ms) ? ms : null;
}
