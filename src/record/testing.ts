/** A valid ticker v1 record for tests, with any fields overridden. Not used by production code. */
import type { TickerRecord } from "./schema.ts";

export function sampleTicker(overrides: Partial<TickerRecord> = {}): TickerRecord {
  return {
    schema: "cryptopipe.ticker.v1",
    source: "simulated",
    source_kind: "simulated",
    channel: "ws",
    symbol: "BTC-USD",
    base: "BTC",
    quote: "USD",
    source_symbol: "BTCUSD",
    price: 97000.5,
    price_usd: null,
    usd_basis: null,
    bid: null,
    ask: null,
    open_24h: null,
    high_24h: null,
    low_24h: null,
    volume_24h_base: null,
    volume_24h_quote: null,
    market_cap_usd: null,
    change_pct_1h: null,
    change_pct_24h: null,
    change_pct_7d: null,
    change_window: "computed",
    event_time: Date.UTC(2026, 10, 24, 12),
    ingest_time: Date.UTC(2026, 10, 24, 12, 0, 1),
    seq: null,
    raw: null,
    ...overrides,
  };
}
