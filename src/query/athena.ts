/**
 * Athena, the only file that imports the Athena client. The query lifecycle done carefully
 * (lake-and-delivery.md §8): one ClientRequestToken per logical query, so SDK retries of
 * StartQueryExecution cannot start it twice; polling with capped backoff; a deadline and
 * Ctrl-C that stop the query in Athena, not only the HTTP call; every result page, with the
 * header row only on the first page of a SELECT; typed values, NULL kept as null; and the
 * data scanned with its estimated cost.
 */
import {
  AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  type ResultConfiguration,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import type { LoadedConfig } from "../config/mod.ts";
import { awsFailure, RuntimeFailure, UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { QueryEngine, QueryResult } from "./mod.ts";
import { sqlLiteral } from "./named.ts";

/** Athena's price: USD per TB scanned, billed per MB rounded up, at least 10 MB a query. */
const USD_PER_TB = 5;
const MB = 1024 * 1024;
const TB = 1024 * 1024 * MB;
const MINIMUM_BILLED_BYTES = 10 * MB;

/** The estimated cost of one query in USD, from the bytes it scanned. */
export function athenaCostUsd(scannedBytes: number): number {
  if (scannedBytes <= 0) return 0; // DDL and failed queries are free
  const billed = Math.max(MINIMUM_BILLED_BYTES, Math.ceil(scannedBytes / MB) * MB);
  return (billed / TB) * USD_PER_TB;
}

/** Athena returns every value as a string: turn it into a number where the column is one. */
export function athenaValue(text: string | undefined, type: string | undefined): unknown {
  if (text === undefined) return null;
  switch (type) {
    case "tinyint":
    case "smallint":
    case "integer":
    case "bigint": {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case "double":
    case "float":
    case "real":
      return Number(text);
    case "boolean":
      return text === "true";
    default:
      return text;
  }
}

function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: { throttling?: boolean } };
  return e?.$retryable?.throttling === true ||
    /Throttl|TooManyRequests/.test(e?.name ?? "");
}

/**
 * Where and how Athena writes result files: location, encryption and the bucket owner it must
 * check. A workgroup with EnforceWorkGroupConfiguration overrides all of it with its own.
 */
export function resultConfiguration(
  config: QueryConfig,
): { ResultConfiguration?: ResultConfiguration } {
  const result: ResultConfiguration = {
    ...(config.output_location ? { OutputLocation: config.output_location } : {}),
    ...(config.output_encryption
      ? {
        EncryptionConfiguration: {
          EncryptionOption: config.output_encryption,
          ...(config.output_kms_key ? { KmsKey: config.output_kms_key } : {}),
        },
      }
      : {}),
    ...(config.output_bucket_owner ? { ExpectedBucketOwner: config.output_bucket_owner } : {}),
  };
  return Object.keys(result).length > 0 ? { ResultConfiguration: result } : {};
}

export interface AthenaOptions {
  /** First and longest pause between status polls (tests shorten them). */
  readonly pollMs?: readonly [number, number];
  /** Stop the query (Ctrl-C). */
  readonly signal?: AbortSignal;
}

type QueryConfig = LoadedConfig["query"];

export class AthenaEngine implements QueryEngine {
  readonly describe: string;
  readonly client: AthenaClient;
  readonly #config: QueryConfig;
  readonly #database: string;
  readonly #logger: Logger;
  readonly #options: AthenaOptions;

  constructor(config: QueryConfig, database: string, logger: Logger, options: AthenaOptions = {}) {
    this.#config = config;
    this.#database = database;
    this.#logger = logger;
    this.#options = options;
    this.describe = `Athena workgroup ${config.workgroup}, database ${database}`;
    this.client = new AthenaClient({
      ...(config.region ? { region: config.region } : {}),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    });
  }

  async run(sql: string, params: readonly string[] = []): Promise<QueryResult> {
    const id = await this.#start(sql, params);
    const execution = await this.#wait(id);
    const stats = execution.Statistics;
    const scanned = stats?.DataScannedInBytes ?? 0;
    this.#logger.info("athena query finished", {
      id,
      scanned_bytes: scanned,
      engine_ms: stats?.EngineExecutionTimeInMillis ?? 0,
      estimated_cost_usd: athenaCostUsd(scanned).toFixed(6),
    });
    return await this.#results(id, execution.StatementType === "DML");
  }

  close(): void {
    this.client.destroy();
  }

  async #start(sql: string, params: readonly string[]): Promise<string> {
    try {
      const started = await this.client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          // The same token on every retry the SDK makes: Athena starts the query once.
          ClientRequestToken: crypto.randomUUID(),
          QueryExecutionContext: { Database: this.#database, Catalog: "AwsDataCatalog" },
          WorkGroup: this.#config.workgroup,
          // Positional values as SQL literal text (Athena's contract), quoted by sqlLiteral.
          ...(params.length > 0 ? { ExecutionParameters: params.map(sqlLiteral) } : {}),
          ...resultConfiguration(this.#config),
        }),
        // No abort here: a start cut off half-way may still have started the query, and only
        // its id lets the poll loop below stop it.
      );
      return started.QueryExecutionId!;
    } catch (error) {
      throw awsFailure(`start an Athena query in workgroup ${this.#config.workgroup}`, error);
    }
  }

  /** Poll until a final state; stop the query on the deadline or on the signal. */
  async #wait(id: string): Promise<QueryExecution> {
    const [firstPause, longestPause] = this.#options.pollMs ?? [250, 2000];
    const deadline = Date.now() + this.#config.timeout_secs * 1000;
    let pause = firstPause;
    for (;;) {
      let execution: QueryExecution | undefined;
      try {
        execution = (await this.client.send(
          new GetQueryExecutionCommand({
            QueryExecutionId: id,
          }),
        )).QueryExecution;
      } catch (error) {
        // Throttled polls (the SDK's own retries spent) wait and poll again, within the
        // deadline; any other failure must not leave a query running (and billing) unseen.
        if (!isThrottling(error)) {
          await this.#stop(id);
          throw awsFailure(`read the state of Athena query ${id}`, error);
        }
        this.#logger.debug("athena status poll throttled; backing off", { id });
      }
      const state = execution?.Status?.State;
      if (state === "SUCCEEDED") return execution!;
      if (state === "FAILED" || state === "CANCELLED") {
        const reason = (execution?.Status?.AthenaError?.ErrorMessage ??
          execution?.Status?.StateChangeReason ?? "no reason given").replace(/\s*\n\s*/g, " ");
        const message = `Athena query ${id} ${state}: ${reason}`;
        // Category 2 is the user's query (syntax, unknown column): exit 2, as on DuckDB.
        throw execution?.Status?.AthenaError?.ErrorCategory === 2
          ? new UsageError(message)
          : new RuntimeFailure(message);
      }
      const why = this.#options.signal?.aborted
        ? "interrupted"
        : Date.now() + pause > deadline
        ? `still ${state} after query.timeout_secs = ${this.#config.timeout_secs}`
        : undefined;
      if (why) {
        await this.#stop(id);
        throw new RuntimeFailure(`Athena query ${id} stopped: ${why}`);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(longestPause, pause * 1.6);
    }
  }

  async #stop(id: string): Promise<void> {
    try {
      await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    } catch (error) {
      this.#logger.warn("could not stop the Athena query", { id, error: String(error) });
    }
  }

  async #results(id: string, hasHeader: boolean): Promise<QueryResult> {
    const max = this.#config.max_rows;
    let columns: readonly ColumnInfo[] = [];
    const rows: unknown[][] = [];
    let truncated = false;
    let token: string | undefined;
    let first = true;
    try {
      do {
        if (this.#options.signal?.aborted) {
          throw new RuntimeFailure(`interrupted while reading the results of Athena query ${id}`);
        }
        const page = await this.client.send(
          new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }),
        );
        if (first) columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
        const data = page.ResultSet?.Rows ?? [];
        // A SELECT's header row is the first row of the first page only.
        for (const row of data.slice(first && hasHeader ? 1 : 0)) {
          if (rows.length >= max) {
            truncated = true;
            break;
          }
          rows.push(
            (row.Data ?? []).map((cell, i) => athenaValue(cell.VarCharValue, columns[i]?.Type)),
          );
        }
        first = false;
        token = truncated ? undefined : page.NextToken;
      } while (token);
    } catch (error) {
      if (error instanceof RuntimeFailure) throw error;
      throw awsFailure(`read the results of Athena query ${id}`, error);
    }
    return { columns: columns.map((c) => c.Name ?? ""), rows, truncated };
  }
}
