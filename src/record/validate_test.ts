import assert from "node:assert/strict";
import {
  decodeRecord,
  encodeRecord,
  LAKE_COLUMNS,
  TICKER_COLUMNS,
  type TickerRecord,
  validateTicker,
} from "./mod.ts";
import { sampleTicker } from "./testing.ts";

const good: TickerRecord = sampleTicker({
  source: "coinbase",
  source_kind: "exchange",
  channel: "rest",
  source_symbol: "BTC-USD",
  price_usd: 97000.5,
  usd_basis: "native",
  bid: 97000,
  ask: 97001,
  volume_24h_base: 1234.5,
  change_pct_24h: -0.756,
  seq: 42,
});

Deno.test("record: schema v1 has exactly the documented fields, in order", () => {
  assert.deepEqual(TICKER_COLUMNS.map((c) => c.name), [
    "schema",
    "source",
    "source_kind",
    "channel",
    "symbol",
    "base",
    "quote",
    "source_symbol",
    "price",
    "price_usd",
    "usd_basis",
    "bid",
    "ask",
    "open_24h",
    "high_24h",
    "low_24h",
    "volume_24h_base",
    "volume_24h_quote",
    "market_cap_usd",
    "change_pct_1h",
    "change_pct_24h",
    "change_pct_7d",
    "change_window",
    "event_time",
    "ingest_time",
    "seq",
    "raw",
  ]);
  const nonNull = TICKER_COLUMNS.filter((c) => !c.nullable).map((c) => c.name);
  assert.deepEqual(nonNull, [
    "schema",
    "source",
    "source_kind",
    "channel",
    "symbol",
    "base",
    "quote",
    "source_symbol",
    "price",
    "change_window",
    "ingest_time",
  ]);
  assert.deepEqual(LAKE_COLUMNS.slice(-4).map((c) => `${c.name}:${c.type}`), [
    "_kafka_topic:string",
    "_kafka_partition:int32",
    "_kafka_offset:int64",
    "_kafka_timestamp:int64",
  ]);
});

Deno.test("record: a valid record round-trips through the wire form", () => {
  const decoded = decodeRecord(new TextEncoder().encode(encodeRecord(good)));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.record, good);
});

Deno.test("record: absent optional fields become null", () => {
  const { price_usd: _p, usd_basis: _u, raw: _r, ...rest } = good;
  const result = validateTicker(rest);
  assert.ok(result.ok);
  assert.equal(result.record.price_usd, null);
});

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ["zero price", { price: 0 }, /price: must be > 0/],
  ["infinite price", { price: Infinity }, /price: expected a finite number/],
  ["string price", { price: "97000" }, /price: expected a finite number/],
  ["missing symbol", { symbol: undefined }, /symbol: required/],
  ["unknown source", { source: "ftx" }, /source: "ftx" is not one of/],
  ["symbol not BASE-QUOTE", { symbol: "BTCUSD" }, /symbol: "BTCUSD" must be BASE-QUOTE/],
  [
    "symbol disagrees with base",
    { symbol: "ETH-USD" },
    /symbol: "ETH-USD" must be BASE-QUOTE \(BTC-USD\)/,
  ],
  [
    "event time in seconds",
    { event_time: 1_732_449_600 },
    /event_time: 1732449600 is not epoch milliseconds/,
  ],
  [
    "event time in microseconds",
    { event_time: 1_732_449_600_000_000 },
    /event_time: .* is not epoch milliseconds/,
  ],
  ["fractional seq", { seq: 1.5 }, /seq: expected an integer/],
  ["price_usd without basis", { usd_basis: null }, /price_usd: set exactly when usd_basis is set/],
  ["negative volume", { volume_24h_base: -1 }, /volume_24h_base: must be >= 0/],
  ["unknown field", { colour: "red" }, /colour: not a field of ticker v1/],
  [
    "wrong schema id",
    { schema: "cryptopipe.ticker.v2" },
    /schema: "cryptopipe.ticker.v2" is not one of/,
  ],
];

for (const [name, change, problem] of bad) {
  Deno.test(`record: rejects ${name}`, () => {
    const result = validateTicker({ ...good, ...change });
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.problems.join("; "), problem);
  });
}

Deno.test("record: non-JSON and non-object payloads are problems, not exceptions", () => {
  for (const payload of ["{", "[]", "42", "null"]) {
    const result = decodeRecord(payload);
    assert.equal(result.ok, false, payload);
  }
  assert.equal(decodeRecord(null).ok, false);
});
