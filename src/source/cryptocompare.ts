/**
 * CryptoCompare REST adapter (exchange-apis.md §4, §9): `GET /data/pricemultifull?fsyms=&tsyms=`
 * against the aggregate index (CCCAGG), read from `RAW[FSYM][TSYM]`.
 *
 * The call returns the cross product fsyms × tsyms, and one pair that does not exist can fail
 * the whole call (§4). So bases are grouped by their set of configured quotes: one request per
 * distinct quote set (usually one), which asks for no pair that is not configured. Pairs in the
 * body that are not configured are skipped silently; configured pairs missing from it yield
 * nothing (the engine notices).
 *
 * Errors come back as HTTP 200 with `Response: "Error"`: `Type` 99 is the rate limit.
 * `PRICE` is required; other numbers may be absent or null, but a present value that is not a
 * finite number makes the pair unusable, as does a `FROMSYMBOL`/`TOSYMBOL` that disagrees with
 * the keys it sits under.
 */
import type { TickerRecord } from "../record/mod.ts";
import {
  clipMessage,
  isObject,
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

export const CRYPTOCOMPARE_DEFAULTS = {
  baseUrl: "https://min-api.cryptocompare.com",
  /**
   * Observed keyless `max_calls`: 20/s, 300/min, 3,000/h, 7,500/day, 50,000/month (§4, 2021–2024
   * samples, e.g. https://github.com/tellor-io/telliot/pull/388). 60/min is a fifth of the
   * per-minute limit.
   */
  requestsPerMinute: 60,
  /**
   * One request per distinct quote set (usually one) every 10 s: 6/min, 360/h. Run around the
   * clock that is 8,640/day, over the observed keyless day and month caps: a keyless source
   * that runs for days needs `poll_interval_secs` ≥ 60 (1,440/day, ≈ 43,000/month) or a key.
   */
  pollIntervalSecs: 10,
} as const;

export const CRYPTOCOMPARE_PATH = "/data/pricemultifull";
/** `Type` in an error body that means over the rate limit (§4). */
const RATE_LIMITED = 99;
/**
 * Parameter length limits from CryptoCompare's API docs (fsyms 300, tsyms 100 characters;
 * UNCONFIRMED in §4): longer lists are split over several requests.
 */
const MAX_FSYMS_CHARS = 300;
const MAX_TSYMS_CHARS = 100;

export function cryptocompareAdapter(): RestAdapter {
  return {
    source: "cryptocompare",
    authorize: (apiKey) => ({ authorization: `Apikey ${apiKey}` }),
    requests: cryptocompareRequests,
    bodyError: cryptocompareBodyError,
    normalize: normalizeCryptocompare,
  };
}

function configuredPairs(symbols: readonly string[]): Map<string, SymbolParts> {
  const pairs = new Map<string, SymbolParts>();
  for (const symbol of symbols) {
    const [base, quote] = symbol.split("-");
    if (!base || !quote) continue;
    const parts = joinSymbol(base, quote);
    pairs.set(parts.symbol, parts);
  }
  return pairs;
}

function cryptocompareRequests(symbols: readonly string[]): HttpRequest[] {
  // base → its quotes, in configured order; then bases grouped by identical quote lists.
  const quotesOf = new Map<string, string[]>();
  for (const { base, quote } of configuredPairs(symbols).values()) {
    const quotes = quotesOf.get(base) ?? [];
    if (!quotes.includes(quote)) quotes.push(quote);
    quotesOf.set(base, quotes);
  }
  const groups = new Map<string, { bases: string[]; quotes: string[] }>();
  for (const [base, quotes] of quotesOf) {
    const key = [...quotes].sort().join(",");
    const group = groups.get(key) ?? { bases: [], quotes };
    group.bases.push(base);
    groups.set(key, group);
  }
  const requests: HttpRequest[] = [];
  for (const { bases, quotes } of groups.values()) {
    for (const fsyms of joinWithin(bases, MAX_FSYMS_CHARS)) {
      for (const tsyms of joinWithin(quotes, MAX_TSYMS_CHARS)) {
        requests.push({ path: CRYPTOCOMPARE_PATH, query: { fsyms, tsyms } });
      }
    }
  }
  return requests;
}

/** Comma lists of `items`, each at most `max` characters (an overlong item goes alone). */
function joinWithin(items: readonly string[], max: number): string[] {
  const lists: string[] = [];
  let current = "";
  for (const item of items) {
    const next = current === "" ? item : `${current},${item}`;
    if (next.length > max && current !== "") {
      lists.push(current);
      current = item;
    } else {
      current = next;
    }
  }
  if (current !== "") lists.push(current);
  return lists;
}

/** `{"Response":"Error","Message":"…","Type":99,…}`: Type 99 throttled, anything else failed. */
function cryptocompareBodyError(body: unknown): BodyError | undefined {
  if (!isObject(body) || body.Response !== "Error") return undefined;
  const text = typeof body.Message === "string" && body.Message !== ""
    ? body.Message
    : "(no message)";
  const type = typeof body.Type === "number" ? `Type ${body.Type}: ` : "";
  const message = clipMessage(`${type}${text}`);
  return { kind: body.Type === RATE_LIMITED ? "throttled" : "failed", message };
}

function normalizeCryptocompare(
  responses: readonly PollResponse[],
  context: NormalizeContext,
): Normalized {
  const records: TickerRecord[] = [];
  const unusable: Unusable[] = [];
  const configured = configuredPairs(context.symbols);
  for (const response of responses) {
    const body = response?.body;
    if (!isObject(body) || !isObject(body.RAW)) {
      const what = !isObject(body)
        ? `body is ${kindOf(body)}`
        : body.RAW === undefined
        ? "RAW is missing"
        : `RAW is ${kindOf(body.RAW)}`;
      unusable.push(reject(body, [`RAW: expected an object of FSYM → TSYM → data (${what})`]));
      continue;
    }
    for (const [fsym, byQuote] of Object.entries(body.RAW)) {
      if (!isObject(byQuote)) {
        // Only worth a reject if one of its pairs was asked for.
        const base = canonicalAsset(fsym);
        if ([...configured.values()].some((p) => p.base === base)) {
          unusable.push(
            reject(byQuote, [`RAW.${fsym}: expected an object, got ${kindOf(byQuote)}`]),
          );
        }
        continue;
      }
      for (const [tsym, data] of Object.entries(byQuote)) {
        const parts = configured.get(joinSymbol(fsym, tsym).symbol);
        if (parts === undefined) continue;
        const read = readPair(data, fsym, tsym, parts, context.ingestTime);
        if ("problems" in read) unusable.push(reject(data, read.problems));
        else records.push(read);
      }
    }
  }
  return { records, unusable };
}

function readPair(
  data: unknown,
  fsym: string,
  tsym: string,
  parts: SymbolParts,
  ingestTime: number,
): TickerRecord | Problems {
  const at = `RAW.${fsym}.${tsym}`;
  if (!isObject(data)) return { problems: [`${at}: expected an object, got ${kindOf(data)}`] };
  const problems: string[] = [];
  sameCode(data, "FROMSYMBOL", fsym, problems);
  sameCode(data, "TOSYMBOL", tsym, problems);
  const price = numberField(data, "PRICE", problems);
  if (price === null && !problems.some((p) => p.startsWith("PRICE:"))) {
    problems.push("PRICE: missing");
  }
  const lastUpdate = numberField(data, "LASTUPDATE", problems);
  const volumeBase = numberField(data, "VOLUME24HOUR", problems);
  const volumeQuote = numberField(data, "VOLUME24HOURTO", problems);
  const open = numberField(data, "OPEN24HOUR", problems);
  const high = numberField(data, "HIGH24HOUR", problems);
  const low = numberField(data, "LOW24HOUR", problems);
  const change = numberField(data, "CHANGEPCT24HOUR", problems);
  const marketCap = numberField(data, "MKTCAP", problems);
  if (problems.length > 0 || price === null) {
    return { problems: problems.map((p) => `${at}.${p}`) };
  }
  return tickerRecord(parts, {
    source: "cryptocompare",
    source_kind: "aggregator",
    // The provider's own pair name, as in its messages ("coin pair (XYZ-USD)").
    source_symbol: `${fsym}-${tsym}`,
    price,
    open_24h: open,
    high_24h: high,
    low_24h: low,
    volume_24h_base: volumeBase,
    volume_24h_quote: volumeQuote,
    market_cap_usd: parts.quote === "USD" ? marketCap : null,
    change_pct_24h: change,
    change_window: "rolling_24h",
    // UNIX seconds → ms; the validator judges the range.
    event_time: lastUpdate === null ? null : Math.round(lastUpdate * 1000),
    ingest_time: ingestTime,
  });
}

/** `FROMSYMBOL`/`TOSYMBOL`, when present, must name the keys the data sits under. */
function sameCode(
  data: Record<string, unknown>,
  field: string,
  key: string,
  problems: string[],
): void {
  const value = data[field];
  if (value === undefined || value === null) return;
  if (typeof value !== "string" || value.toUpperCase() !== key.toUpperCase()) {
    problems.push(`${field}: ${preview(value)} does not match the key ${JSON.stringify(key)}`);
  }
}
