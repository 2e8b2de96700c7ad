/**
 * Record schema `cryptopipe.ticker.v1`, defined once. The producer, the validator, the
 * encoders and the catalog all read this table; nothing else lists the columns.
 * Source of truth for the contents: docs exchange-apis.md §9.
 */

export const TICKER_SCHEMA_ID = "cryptopipe.ticker.v1";

export type ColumnType = "string" | "float64" | "int64" | "int32";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly unit?: string;
  /** Allowed values for enumerated strings. */
  readonly values?: readonly string[];
  readonly doc: string;
}

export const SOURCES = [
  "coingecko",
  "binance",
  "cryptocompare",
  "coinbase",
  "kraken",
  "simulated",
] as const;
export const SOURCE_KINDS = ["exchange", "aggregator", "simulated"] as const;
export const CHANNELS = ["rest", "ws"] as const;
export const USD_BASES = ["native", "stablecoin_parity", "converted"] as const;
export const CHANGE_WINDOWS = ["rolling_24h", "utc_day", "computed"] as const;

export const TICKER_COLUMNS = [
  {
    name: "schema",
    type: "string",
    nullable: false,
    values: [TICKER_SCHEMA_ID],
    doc: "record schema id; bumped on a breaking change",
  },
  {
    name: "source",
    type: "string",
    nullable: false,
    values: SOURCES,
    doc: "provider (simulated = the offline generator)",
  },
  {
    name: "source_kind",
    type: "string",
    nullable: false,
    values: SOURCE_KINDS,
    doc: "exchange, aggregator or simulated",
  },
  { name: "channel", type: "string", nullable: false, values: CHANNELS, doc: "rest or ws" },
  { name: "symbol", type: "string", nullable: false, doc: "canonical BASE-QUOTE, upper-case" },
  { name: "base", type: "string", nullable: false, doc: "canonical asset code after aliasing" },
  {
    name: "quote",
    type: "string",
    nullable: false,
    doc: "quote asset, never rewritten (USDT is not USD)",
  },
  { name: "source_symbol", type: "string", nullable: false, doc: "the provider's own symbol" },
  {
    name: "price",
    type: "float64",
    nullable: false,
    unit: "quote units",
    doc: "last trade or aggregate price",
  },
  {
    name: "price_usd",
    type: "float64",
    nullable: true,
    unit: "USD",
    doc: "set only with an explicit usd_basis",
  },
  {
    name: "usd_basis",
    type: "string",
    nullable: true,
    values: USD_BASES,
    doc: "native, stablecoin_parity or converted",
  },
  { name: "bid", type: "float64", nullable: true, unit: "quote units", doc: "best bid" },
  { name: "ask", type: "float64", nullable: true, unit: "quote units", doc: "best ask" },
  {
    name: "open_24h",
    type: "float64",
    nullable: true,
    unit: "quote units",
    doc: "open of the 24h window",
  },
  { name: "high_24h", type: "float64", nullable: true, unit: "quote units", doc: "24h high" },
  { name: "low_24h", type: "float64", nullable: true, unit: "quote units", doc: "24h low" },
  {
    name: "volume_24h_base",
    type: "float64",
    nullable: true,
    unit: "base units",
    doc: "24h volume in base units",
  },
  {
    name: "volume_24h_quote",
    type: "float64",
    nullable: true,
    unit: "quote units",
    doc: "24h volume in quote units",
  },
  {
    name: "market_cap_usd",
    type: "float64",
    nullable: true,
    unit: "USD",
    doc: "market cap (aggregators only)",
  },
  {
    name: "change_pct_1h",
    type: "float64",
    nullable: true,
    unit: "percent",
    doc: "1h change in percent",
  },
  {
    name: "change_pct_24h",
    type: "float64",
    nullable: true,
    unit: "percent",
    doc: "24h change in percent",
  },
  {
    name: "change_pct_7d",
    type: "float64",
    nullable: true,
    unit: "percent",
    doc: "7d change in percent",
  },
  {
    name: "change_window",
    type: "string",
    nullable: false,
    values: CHANGE_WINDOWS,
    doc: "rolling_24h, utc_day or computed",
  },
  {
    name: "event_time",
    type: "int64",
    nullable: true,
    unit: "epoch ms, UTC",
    doc: "provider time; null when it has none",
  },
  {
    name: "ingest_time",
    type: "int64",
    nullable: false,
    unit: "epoch ms, UTC",
    doc: "local receive time",
  },
  { name: "seq", type: "int64", nullable: true, doc: "provider sequence or last trade id" },
  { name: "raw", type: "string", nullable: true, doc: "original payload as JSON; off by default" },
] as const satisfies readonly Column[];

/** Lineage columns the consumer adds to every lake row. */
export const LINEAGE_COLUMNS = [
  {
    name: "_kafka_topic",
    type: "string",
    nullable: false,
    doc: "Kafka topic the row was read from",
  },
  { name: "_kafka_partition", type: "int32", nullable: false, doc: "Kafka partition" },
  { name: "_kafka_offset", type: "int64", nullable: false, doc: "Kafka offset" },
  {
    name: "_kafka_timestamp",
    type: "int64",
    nullable: false,
    unit: "epoch ms, UTC",
    doc: "Kafka record timestamp (produce time)",
  },
] as const satisfies readonly Column[];

/** Every column of a lake row, in file order. */
export const LAKE_COLUMNS: readonly Column[] = [...TICKER_COLUMNS, ...LINEAGE_COLUMNS];

type ValueOf<C extends Column> = C["type"] extends "string"
  ? (C extends { values: readonly (infer V)[] } ? V : string)
  : number;

type Field<C extends Column> = C["nullable"] extends true ? ValueOf<C> | null : ValueOf<C>;

type RecordOf<Cs extends readonly Column[]> = { [C in Cs[number] as C["name"]]: Field<C> };

/** One normalized ticker record, as published to Kafka (JSON, times as epoch ms numbers). */
export type TickerRecord = RecordOf<typeof TICKER_COLUMNS>;

/** A lake row: the record plus lineage. */
export type LakeRow = TickerRecord & RecordOf<typeof LINEAGE_COLUMNS>;

/**
 * Rows of the errors table: input that consume could not turn into a ticker row. Kept with its
 * Kafka coordinates so nothing is lost and it can be replayed after a fix.
 */
export const ERROR_COLUMNS = [
  {
    name: "error_code",
    type: "string",
    nullable: false,
    values: ["empty", "not_json", "unknown_schema_version", "invalid_record"],
    doc: "the class of rejection; alert on unknown_schema_version",
  },
  { name: "error", type: "string", nullable: false, doc: "why the record was rejected" },
  {
    name: "payload",
    type: "string",
    nullable: true,
    doc: "the message value as UTF-8 text (lossy if it is not UTF-8)",
  },
  {
    name: "payload_base64",
    type: "string",
    nullable: true,
    doc: "the message value's exact bytes, base64",
  },
  { name: "key", type: "string", nullable: true, doc: "the Kafka message key" },
  {
    name: "schema_header",
    type: "string",
    nullable: true,
    doc: "the cryptopipe-schema header, if any",
  },
  ...LINEAGE_COLUMNS,
] as const satisfies readonly Column[];
