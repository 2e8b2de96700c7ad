/**
 * Canonical symbols: BASE-QUOTE, upper-case, with a small explicit alias table for the asset
 * codes providers spell their own way (exchange-apis.md §9). Quotes are never rewritten:
 * USD, USDT and USDC stay distinct, and `price_usd` is set only when the quote is USD itself.
 */

/** Provider asset code → canonical code. Small on purpose: aliases can collide. */
export const ASSET_ALIASES: Readonly<Record<string, string>> = {
  XBT: "BTC",
  XDG: "DOGE",
  BCC: "BCH",
};

/** Canonical code → the code Kraken uses (the inverse of the aliases Kraken needs). */
export const KRAKEN_ASSETS: Readonly<Record<string, string>> = { BTC: "XBT", DOGE: "XDG" };

export function canonicalAsset(code: string): string {
  const upper = code.toUpperCase();
  return ASSET_ALIASES[upper] ?? upper;
}

export interface SymbolParts {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

/** "BTC-USD" → parts; the config schema has already checked the shape. */
export function splitSymbol(symbol: string): SymbolParts {
  const [base, quote] = symbol.split("-");
  return { symbol, base, quote };
}

export function joinSymbol(base: string, quote: string): SymbolParts {
  const [b, q] = [canonicalAsset(base), canonicalAsset(quote)];
  return { symbol: `${b}-${q}`, base: b, quote: q };
}

/** `price_usd` and its basis: only a USD quote is USD; a stablecoin is not silently equal. */
export function usdPrice(
  quote: string,
  price: number,
): { price_usd: number | null; usd_basis: "native" | null } {
  return quote === "USD" ? { price_usd: price, usd_basis: "native" } : {
    price_usd: null,
    usd_basis: null,
  };
}
