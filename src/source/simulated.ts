/**
 * The offline source: a seeded, deterministic random walk. The same seed and symbols give the
 * same price path on every run, so demos and tests are reproducible; only times are real.
 */
import type { SourceConfig } from "../config/mod.ts";
import { TICKER_SCHEMA_ID, type TickerRecord } from "../record/mod.ts";
import type { Source, SourceClock, SourceItem } from "./mod.ts";
import { Pacer } from "./pacing.ts";

type SimulatedConfig = Extract<SourceConfig, { type: "simulated" }>;

/** mulberry32: tiny, fast, good enough for a price walk, and reproducible everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starting prices for well-known bases; anything else starts at 1. */
const START_PRICES: Record<string, number> = {
  BTC: 97_000,
  ETH: 3_400,
  SOL: 240,
  XRP: 1.4,
  DOGE: 0.38,
  ADA: 0.9,
};

interface Instrument {
  readonly base: string;
  readonly quote: string;
  readonly symbol: string;
  price: number;
  readonly open: number;
  high: number;
  low: number;
  volume: number;
  seq: number;
}

const MAX_BURST = 1000;

export class SimulatedSource implements Source {
  readonly #instruments: Instrument[];
  readonly #random: () => number;

  constructor(
    readonly name: string,
    readonly config: SimulatedConfig,
    readonly clock: SourceClock,
  ) {
    this.#random = seededRandom(config.seed);
    this.#instruments = config.symbols.map((symbol) => {
      const [base, quote] = symbol.split("-");
      const price = START_PRICES[base] ?? 1;
      return {
        base,
        quote,
        symbol,
        price,
        open: price,
        high: price,
        low: price,
        volume: 0,
        seq: 0,
      };
    });
  }

  /** Box-Muller: a normal step keeps the walk realistic-looking. */
  #gaussian(): number {
    const u = 1 - this.#random();
    const v = this.#random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  next(now: number, index: number): TickerRecord {
    const inst = this.#instruments[index % this.#instruments.length];
    inst.price = inst.price * Math.exp(this.config.volatility * this.#gaussian());
    inst.high = Math.max(inst.high, inst.price);
    inst.low = Math.min(inst.low, inst.price);
    const tradeSize = this.#random() * 2;
    inst.volume += tradeSize;
    inst.seq += 1;
    const spread = inst.price * 0.0001;
    const usd = inst.quote === "USD";
    return {
      schema: TICKER_SCHEMA_ID,
      source: "simulated",
      source_kind: "simulated",
      channel: "ws",
      symbol: inst.symbol,
      base: inst.base,
      quote: inst.quote,
      source_symbol: `${inst.base}${inst.quote}`,
      price: inst.price,
      price_usd: usd ? inst.price : null,
      usd_basis: usd ? "native" : null,
      bid: inst.price - spread,
      ask: inst.price + spread,
      open_24h: inst.open,
      high_24h: inst.high,
      low_24h: inst.low,
      volume_24h_base: inst.volume,
      volume_24h_quote: inst.volume * inst.price,
      market_cap_usd: null,
      change_pct_1h: null,
      change_pct_24h: ((inst.price - inst.open) / inst.open) * 100,
      change_pct_7d: null,
      change_window: "computed",
      event_time: now,
      ingest_time: now,
      seq: inst.seq,
      raw: null,
    };
  }

  async *items(signal: AbortSignal): AsyncIterable<SourceItem[]> {
    const pacer = new Pacer(this.config.rate_per_second, this.clock);
    let index = 0;
    while (!signal.aborted) {
      const n = await pacer.due(MAX_BURST, signal);
      if (n === 0) continue;
      const now = this.clock.now();
      const batch: SourceItem[] = [];
      for (let i = 0; i < n; i++) batch.push({ kind: "record", record: this.next(now, index++) });
      yield batch;
    }
  }
}
