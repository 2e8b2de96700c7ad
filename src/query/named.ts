/**
 * Named queries. They stay in the SQL subset DuckDB and Athena (Trino) share, so the same
 * text runs locally and in AWS. `{table}` is replaced by the configured table name.
 */

export interface NamedQuery {
  readonly description: string;
  readonly sql: string;
}

export const NAMED_QUERIES: Readonly<Record<string, NamedQuery>> = {
  latest: {
    description: "latest price per source and symbol",
    sql: `SELECT symbol, source, price, price_usd, change_pct_24h, event_time, ingest_time
FROM (
  SELECT symbol, source, price, price_usd, change_pct_24h, event_time, ingest_time,
         row_number() OVER (
           PARTITION BY source, symbol
           ORDER BY coalesce(event_time, ingest_time) DESC, _kafka_offset DESC
         ) AS rn
  FROM {table}
) AS ranked
WHERE rn = 1
ORDER BY symbol, source`,
  },
  hourly: {
    description: "records, first, low, high and last price per symbol and UTC hour",
    sql: `SELECT dt, hour, symbol, count(*) AS records,
       min(price) AS low, max(price) AS high,
       min_by(price, coalesce(event_time, ingest_time)) AS first,
       max_by(price, coalesce(event_time, ingest_time)) AS last
FROM {table}
GROUP BY dt, hour, symbol
ORDER BY dt, hour, symbol`,
  },
};

export function namedQuerySql(name: string, table: string): string | undefined {
  return NAMED_QUERIES[name]?.sql.replaceAll("{table}", table);
}
