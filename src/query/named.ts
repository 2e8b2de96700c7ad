/**
 * Named queries. They stay in the SQL subset DuckDB and Athena (Trino) share, so the same text
 * runs locally and in AWS. `{table}` is replaced by the configured table's dedup view
 * (`<table>_dedup`, one row per Kafka record, see catalog/dedup_view.ts), an identifier the config
 * schema already restricts to [a-z][a-z0-9_]*.
 *
 * Parameters are positional `?` in WHERE clauses only (Athena's rule), bound by the engine:
 * DuckDB binds values; Athena receives each as SQL literal text in ExecutionParameters, quoted
 * by `sqlLiteral` (quotes doubled, never backslash-escaped). Every value is validated against
 * its type first, so a value that is not a symbol or a date never reaches either engine.
 * `dt` and `hour` are strings in both engines, so dates are bound as strings, never as DATE.
 */
import { dedupViewName } from "../catalog/mod.ts";
import { UsageError } from "../errors.ts";

export type ParamType = "symbol" | "date";

export interface ParamSpec {
  readonly type: ParamType;
  readonly doc: string;
  /** The value used when the parameter is not given (it selects everything). */
  readonly default: string;
}

export interface NamedQuery {
  readonly description: string;
  readonly sql: string;
  /** In the order of the `?` placeholders; a name may appear more than once. */
  readonly placeholders: readonly string[];
}

export const PARAMS: Readonly<Record<string, ParamSpec>> = {
  symbol: {
    type: "symbol",
    doc: "one instrument, e.g. BTC-USD (default: all)",
    default: "%",
  },
  from: {
    type: "date",
    doc: "first UTC day, YYYY-MM-DD (default: the beginning)",
    default: "0000-01-01",
  },
  to: { type: "date", doc: "last UTC day, YYYY-MM-DD (default: no end)", default: "9999-12-31" },
};

/** The common filter: a symbol (LIKE, so the default '%' takes all) and a dt range. */
const FILTER = `symbol LIKE ? AND dt >= ? AND dt <= ?`;
const FILTER_PARAMS = ["symbol", "from", "to"] as const;

/** Latest record per source and symbol, the base of several queries below. */
const LATEST = `SELECT symbol, source, price, price_usd, change_pct_24h, event_time, ingest_time,
         row_number() OVER (
           PARTITION BY source, symbol
           ORDER BY coalesce(event_time, ingest_time) DESC, _kafka_offset DESC
         ) AS rn
  FROM {table}
  WHERE ${FILTER}`;

export const NAMED_QUERIES: Readonly<Record<string, NamedQuery>> = {
  latest: {
    description: "latest price per source and symbol",
    sql: `SELECT symbol, source, price, price_usd, change_pct_24h, event_time, ingest_time
FROM (
  ${LATEST}
) AS ranked
WHERE rn = 1
ORDER BY symbol, source`,
    placeholders: FILTER_PARAMS,
  },
  hourly: {
    description: "OHLC per symbol and UTC hour, with a volume-weighted average price (vwap)",
    // Open and close are the first and last tick by time; ties (two sources in the same
    // millisecond) are broken by source and Kafka position, so both engines agree exactly.
    sql: `SELECT dt, hour, symbol, count(*) AS records,
       max(CASE WHEN first_tick = 1 THEN price END) AS open,
       max(price) AS high,
       min(price) AS low,
       max(CASE WHEN last_tick = 1 THEN price END) AS close,
       sum(price * volume_24h_base) / nullif(sum(volume_24h_base), 0) AS vwap
FROM (
  SELECT dt, hour, symbol, price, volume_24h_base,
         row_number() OVER (
           PARTITION BY dt, hour, symbol
           ORDER BY coalesce(event_time, ingest_time), source, _kafka_partition, _kafka_offset
         ) AS first_tick,
         row_number() OVER (
           PARTITION BY dt, hour, symbol
           ORDER BY coalesce(event_time, ingest_time) DESC, source DESC,
                    _kafka_partition DESC, _kafka_offset DESC
         ) AS last_tick
  FROM {table}
  WHERE ${FILTER}
) AS ticks
GROUP BY dt, hour, symbol
ORDER BY dt, hour, symbol`,
    placeholders: FILTER_PARAMS,
  },
  movers: {
    description: "symbols ranked by their latest 24h change (best first), per source",
    sql: `SELECT rank() OVER (PARTITION BY source ORDER BY change_pct_24h DESC) AS rank,
       source, symbol, change_pct_24h, price
FROM (
  ${LATEST}
) AS ranked
WHERE rn = 1 AND change_pct_24h IS NOT NULL
ORDER BY source, rank, symbol`,
    placeholders: FILTER_PARAMS,
  },
  spread: {
    description:
      "cross-source spread per symbol: the latest price of each source, lowest and highest",
    sql: `SELECT symbol, count(*) AS sources,
       min(price) AS low, max(price) AS high,
       min_by(source, price) AS cheapest, max_by(source, price) AS dearest,
       (max(price) - min(price)) / min(price) * 100 AS spread_pct
FROM (
  ${LATEST}
) AS ranked
WHERE rn = 1
GROUP BY symbol
HAVING count(*) >= 2
ORDER BY spread_pct DESC, symbol`,
    placeholders: FILTER_PARAMS,
  },
};

const SYMBOL = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function validDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const time = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === value;
}

/** Parse `name=value` flags into validated values for a query; exit 2 naming a bad one. */
export function namedQueryParams(name: string, given: readonly string[]): string[] {
  const query = NAMED_QUERIES[name];
  const values: Record<string, string> = {};
  for (const item of given) {
    const eq = item.indexOf("=");
    const key = eq > 0 ? item.slice(0, eq) : item;
    const value = eq > 0 ? item.slice(eq + 1) : "";
    const spec = PARAMS[key];
    if (!spec || !query.placeholders.includes(key)) {
      throw new UsageError(
        `Unknown parameter ${JSON.stringify(key)} for --named ${name} (--param); known: ${
          [...new Set(query.placeholders)].join(", ")
        }`,
      );
    }
    const ok = spec.type === "symbol" ? SYMBOL.test(value) : validDate(value);
    if (!ok) {
      throw new UsageError(
        `Invalid --param ${key}=${JSON.stringify(value).slice(0, 60)}: expected ${
          spec.type === "symbol" ? "a symbol such as BTC-USD" : "a date YYYY-MM-DD"
        }`,
      );
    }
    values[key] = value;
  }
  if (values.from && values.to && values.from > values.to) {
    throw new UsageError(
      `Invalid --param from=${values.from} to=${values.to}: from is after to`,
    );
  }
  return query.placeholders.map((p) => values[p] ?? PARAMS[p].default);
}

export function namedQuerySql(name: string, table: string): string | undefined {
  return NAMED_QUERIES[name]?.sql.replaceAll("{table}", dedupViewName(table));
}

/**
 * A string as a Trino SQL literal, for Athena's ExecutionParameters: quotes doubled, never
 * backslash-escaped (Trino ignores backslashes, so `\'` would end the literal).
 */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
