/**
 * The one config schema. Every key, its type, its range and its default live here, and
 * cryptopipe.example.toml documents the same keys (a test keeps the two in step).
 */
import { z } from "zod";
import { LOG_LEVELS } from "../log.ts";
import {
  DEDUP_SUFFIX,
  IDENTIFIER_PATTERN,
  IDENTIFIER_RULE,
  MAX_PREFIX_LENGTH,
  PREFIX_PATTERN,
  PREFIX_RULE,
  SYMBOL_PATTERN,
  SYMBOL_RULE,
  TABLE_SUFFIX_RULE,
  TOPIC_PATTERN,
  TOPIC_RULE,
} from "./names.ts";

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const nonNegativeInt = (max: number) => z.number().int().min(0).max(max);
/** Durations in seconds; fractions allowed (tests use sub-second flushes). */
const seconds = (max: number) => z.number().min(0.05).max(max);
const MIB = 1024 * 1024;
const awsRegion = z.string().regex(
  /^[a-z]{2}(-[a-z]+)+-\d$/,
  "must be an AWS region such as eu-west-1",
);
/** https only, except http on loopback (emulators in tests). */
const awsEndpoint = z.url().refine(
  (url) =>
    url.startsWith("https://") ||
    /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(url),
  "must be https:// (http:// only for 127.0.0.1, localhost or [::1])",
);
/** A 12-digit AWS account id, as a string (a TOML number would lose leading zeros). */
const awsAccountId = z.string({
  error: 'must be a 12-digit AWS account id in quotes, e.g. "123456789012"',
})
  .regex(/^\d{12}$/, 'must be a 12-digit AWS account id in quotes, e.g. "123456789012"');
/** A KMS key: key id, key ARN, alias name or alias ARN. */
const kmsKeyId = z.string().regex(
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[A-Za-z0-9-]{1,128}|alias\/[A-Za-z0-9/_-]{1,250})|alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
  "must be a KMS key id, key ARN, alias/name or alias ARN",
);
/** Kafka topic names: legal characters only, so they are also safe as file-name parts. */
const topicName = z.string().regex(TOPIC_PATTERN, TOPIC_RULE);
/** Table, database and source names become folder names and SQL identifiers. */
const identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);
const tableName = identifier.refine((name) => !name.endsWith(DEDUP_SUFFIX), TABLE_SUFFIX_RULE);
const symbolList = z.array(z.string().regex(SYMBOL_PATTERN, SYMBOL_RULE)).min(1).max(1000);

/** Where a secret comes from. The TOML may name a source, never hold the value. */
export const secretSourceKeys = (name: string) => ({
  [`${name}_env`]: z.string().regex(
    /^CRYPTOPIPE_[A-Z0-9_]+$/,
    "must name a CRYPTOPIPE_* environment variable",
  ).optional(),
  [`${name}_file`]: z.string().min(1).optional(),
  [`${name}_credential`]: z.string().regex(
    /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,255}$/,
    "must be a systemd credential name",
  ).optional(),
});

const simulatedSource = z.strictObject({
  type: z.literal("simulated"),
  symbols: symbolList.default(["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD"]),
  rate_per_second: z.number().gt(0).max(1_000_000).default(20),
  seed: z.number().int().default(42),
  /** Relative price step per tick (standard deviation), e.g. 0.001 = 0.1 %. */
  volatility: z.number().gt(0).max(0.5).default(0.001),
});

const replaySource = z.strictObject({
  type: z.literal("replay"),
  path: z.string().min(1),
  /** 0 = as fast as the bus takes them. */
  rate_per_second: z.number().min(0).max(1_000_000).default(0),
});

/** A provider's base URL: https, or http on loopback (fixture servers in tests). */
const baseUrl = z.url().refine(
  (url) =>
    url.startsWith("https://") ||
    /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(url),
  "must be https:// (http:// only for 127.0.0.1, localhost or [::1])",
);

/** Keys every REST source shares; unset ones take the provider's documented defaults. */
const restKeys = {
  symbols: symbolList,
  /** Default: the provider's public API host. */
  base_url: baseUrl.optional(),
  /** Default per provider, from its limits and cache TTL (README). */
  poll_interval_secs: seconds(86_400).optional(),
  /** Request budget (token bucket); default per provider from its documented limit. */
  requests_per_minute: positiveInt(100_000).optional(),
  request_timeout_ms: positiveInt(120_000).default(10_000),
  max_response_bytes: positiveInt(64 * MIB).default(4 * MIB),
  /** A live record whose event_time is further than this from the local clock is rejected. */
  max_clock_skew_secs: seconds(86_400).default(300),
};

/**
 * The source types that take an API key (CoinGecko demo key, CryptoCompare key), from a secret
 * source. On any other type an api_key_* is a config error, not a key silently never sent.
 */
export const API_KEY_SOURCE_TYPES = ["coingecko", "cryptocompare"] as const;
const { api_key_env, api_key_file, api_key_credential } = secretSourceKeys("api_key");
/** Named, not an index signature, so the source union still narrows by type. */
const apiKeyKeys = { api_key_env, api_key_file, api_key_credential };

const restSource = <T extends string>(type: T) =>
  z.strictObject({ type: z.literal(type), ...restKeys });

export const REST_SOURCE_TYPES = [
  "coingecko",
  "binance",
  "cryptocompare",
  "coinbase",
  "kraken",
] as const;

/** A stream URL: wss, or ws on loopback (the local WebSocket server in tests). */
const wsUrl = z.url().refine(
  (url) =>
    url.startsWith("wss://") ||
    /^ws:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(url),
  "must be wss:// (ws:// only for 127.0.0.1, localhost or [::1])",
);

/** Keys every WebSocket source shares. */
const wsKeys = {
  symbols: symbolList,
  /** Default: the provider's public stream host. */
  url: wsUrl.optional(),
  /** No message (data or heartbeat) for this long: close and reconnect. */
  silence_timeout_secs: seconds(3600).default(30),
  /** Reconnect backoff starts at 1 s and doubles up to this. */
  reconnect_max_secs: seconds(3600).default(60),
  /** Renew the connection after this long (default for binance: 23.5 h, under its 24 h cut). */
  max_connection_secs: seconds(7 * 86_400).optional(),
  /** A live record whose event_time is further than this from the local clock is rejected. */
  max_clock_skew_secs: seconds(86_400).default(300),
};

const wsSource = <T extends string>(type: T) =>
  z.strictObject({ type: z.literal(type), ...wsKeys });

export const sourceSchema = z.discriminatedUnion("type", [
  simulatedSource,
  replaySource,
  restSource("coingecko").extend({
    /** Base asset → CoinGecko coin id, added to the built-in map (symbols are not unique). */
    ids: z.record(z.string().regex(/^[A-Z0-9]{1,20}$/), z.string().regex(/^[a-z0-9-]{1,100}$/))
      .default({}),
    ...apiKeyKeys,
  }),
  restSource("binance"),
  restSource("cryptocompare").extend(apiKeyKeys),
  restSource("coinbase"),
  restSource("kraken"),
  wsSource("binance_ws"),
  wsSource("coinbase_ws"),
  wsSource("kraken_ws"),
]);

export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512", "aws-msk-iam"] as const;

/**
 * Kafka SASL. plain and scram-* take a username and a password from a secret source;
 * aws-msk-iam (Amazon MSK IAM, SASL/OAUTHBEARER with a signed token) takes only a region and
 * signs with the AWS default credential chain.
 */
const saslSchema = z.strictObject({
  mechanism: z.enum(SASL_MECHANISMS),
  username: z.string().min(1).optional(),
  ...secretSourceKeys("password"),
  /** mechanism = "aws-msk-iam": the cluster's region, for the token signature. */
  region: awsRegion.optional(),
}).superRefine((sasl, ctx) => {
  const passwordKeys = ["password_env", "password_file", "password_credential"].filter((k) =>
    (sasl as Record<string, unknown>)[k] !== undefined
  );
  if (sasl.mechanism === "aws-msk-iam") {
    if (sasl.region === undefined) {
      ctx.addIssue({ code: "custom", path: ["region"], message: 'required for "aws-msk-iam"' });
    }
    for (const key of [...(sasl.username !== undefined ? ["username"] : []), ...passwordKeys]) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: '"aws-msk-iam" signs with the AWS default credential chain; remove this key',
      });
    }
    return;
  }
  if (sasl.username === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["username"],
      message: `required for "${sasl.mechanism}"`,
    });
  }
  if (sasl.region !== undefined) {
    ctx.addIssue({ code: "custom", path: ["region"], message: 'only for "aws-msk-iam"' });
  }
});

/**
 * Kafka TLS. The section's presence turns TLS on; server certificates are always verified
 * (against `ca_file`, else the system's CAs). There is deliberately no key to turn that off.
 */
const tlsSchema = z.strictObject({
  /** PEM file of the CA(s) that signed the brokers' certificates; default: the system's CAs. */
  ca_file: z.string().min(1).optional(),
  /** Client certificate (PEM) for mutual TLS; needs key_file. */
  cert_file: z.string().min(1).optional(),
  /** The client certificate's private key (PEM); needs cert_file. */
  key_file: z.string().min(1).optional(),
  /** Name checked against the broker certificate (and sent as SNI); default: the broker host. */
  server_name: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, "must be a host name").optional(),
  /** For an encrypted key_file: where its passphrase comes from. */
  ...secretSourceKeys("key_password"),
}).superRefine((tls, ctx) => {
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    const missing = tls.cert_file === undefined ? "cert_file" : "key_file";
    ctx.addIssue({
      code: "custom",
      path: [missing],
      message: "cert_file and key_file go together (mutual TLS)",
    });
  }
  const keyPassword = ["key_password_env", "key_password_file", "key_password_credential"]
    .find((k) => (tls as Record<string, unknown>)[k] !== undefined);
  if (keyPassword && tls.key_file === undefined) {
    ctx.addIssue({ code: "custom", path: [keyPassword], message: "only with key_file" });
  }
});

export const configSchema = z.strictObject({
  log: z.strictObject({
    level: z.enum(LOG_LEVELS).default("info"),
    /** auto: JSON lines when stderr is not a terminal (journald, files), text on a terminal. */
    format: z.enum(["auto", "text", "json"]).default("auto"),
  }).prefault({}),

  metrics: z.strictObject({
    /**
     * host:port of the /metrics and /health endpoint (produce and consume); absent = off.
     * Loopback only unless allow_remote = true (the endpoint has no authentication).
     */
    listen: z.string().regex(
      /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
      'must be host:port, e.g. "127.0.0.1:9464"',
    ).refine((listen) => Number(listen.slice(listen.lastIndexOf(":") + 1)) <= 65535, {
      message: "the port must be at most 65535",
    }).optional(),
    /** Serve on a non-loopback address (behind a firewall or a proxy that adds auth). */
    allow_remote: z.boolean().default(false),
    /** A source with no record (or connect) for this long makes /health answer 503. */
    source_stale_secs: seconds(7 * 86_400).default(300),
    /** A sink with work waiting and no successful send/flush for this long: 503. */
    sink_stale_secs: seconds(7 * 86_400).default(300),
    /** Label sets kept per metric (e.g. source × symbol); more are dropped and counted. */
    max_series_per_metric: positiveInt(100_000).default(1000),
  }).refine(
    (m) =>
      m.listen === undefined || m.allow_remote ||
      /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):/.test(m.listen),
    {
      message:
        "must be a loopback address (127.0.0.1, [::1], localhost) unless allow_remote = true",
      path: ["listen"],
    },
  ).prefault({}),

  sources: z.record(identifier, sourceSchema).default({
    sim: {
      type: "simulated",
      symbols: ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD"],
      rate_per_second: 20,
      seed: 42,
      volatility: 0.001,
    },
  }),

  produce: z.strictObject({
    /** Records per Kafka send; bigger batches amortize the acks=all round trip. */
    batch_max_records: positiveInt(100_000).default(1000),
    /** Longest a record waits in the batch before it is sent. */
    batch_max_ms: positiveInt(60_000).default(200),
    /** Send requests in flight at once (the idempotent producer keeps order). */
    max_in_flight: positiveInt(5).default(1),
    /**
     * Idempotent producer (the broker drops a retried batch it already has). Off only for
     * benchmarks or brokers without IdempotentWrite permission: retries may then duplicate.
     */
    idempotent: z.boolean().default(true),
    /**
     * Batch compression. Only codecs that work inside the compiled binary: gzip (built into
     * kafkajs) and snappy (pure JS). zstd and lz4 need native addons and are not offered.
     */
    compression: z.enum(["none", "gzip", "snappy"]).default("none"),
    /**
     * On SIGTERM or the end of input, the last batch must be taken by Kafka within this. At
     * least 3 s: a WebSocket close handshake alone may take 2 s.
     */
    shutdown_timeout_secs: z.number().min(3).max(3600).default(10),
  }).prefault({}),

  bus: z.strictObject({
    type: z.enum(["kafka"]).default("kafka"),
    brokers: z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "must be host:port")).min(1)
      .default(["127.0.0.1:9092"]),
    topic: topicName.default("crypto.ticker.v1"),
    /** Invalid input goes here, never dropped. Default: "<topic>.rejects". */
    rejects_topic: topicName.optional(),
    /** Feed health events of streaming sources; default "<topic>.status". */
    status_topic: topicName.optional(),
    client_id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).default("cryptopipe"),
    group_id: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default("cryptopipe-lake"),
    /** How long a dead consumer keeps its partitions; the broker's group.min.session.timeout.ms
     * (default 6000) and group.max.session.timeout.ms bound it too. */
    session_timeout_ms: z.number().int().min(1000).max(300_000).default(30_000),
    connect_timeout_ms: positiveInt(120_000).default(10_000),
    request_timeout_ms: positiveInt(300_000).default(30_000),
    /** Partitions when cryptopipe creates the topic itself. */
    topic_partitions: positiveInt(1000).default(3),
    /** Replicas when cryptopipe creates a topic; default: the broker's default.replication.factor. */
    topic_replication: positiveInt(32).optional(),
    retry: z.strictObject({
      /** Bounded: after this many retries the mode exits 3. */
      retries: nonNegativeInt(50).default(5),
      initial_ms: positiveInt(60_000).default(300),
      max_ms: positiveInt(600_000).default(10_000),
    }).prefault({}),
    sasl: saslSchema.optional(),
    tls: tlsSchema.optional(),
  }).superRefine((bus, ctx) => {
    // PLAIN sends the password as it is, and MSK's IAM listener is TLS-only: both need TLS.
    if (bus.sasl && ["plain", "aws-msk-iam"].includes(bus.sasl.mechanism) && !bus.tls) {
      ctx.addIssue({
        code: "custom",
        path: ["sasl", "mechanism"],
        message: `"${bus.sasl.mechanism}" needs TLS: add a [bus.tls] section`,
      });
    }
  }).prefault({}),

  batch: z.strictObject({
    /** A file is closed after this many records. */
    max_records: positiveInt(10_000_000).default(100_000),
    /** ...or after this many bytes of input (JSON message values, not the encoded file). */
    max_bytes: z.number().int().min(1024).max(4 * 1024 * MIB).default(64 * MIB),
    /** ...or before a record whose event time is this far past the file's first record. */
    max_span_secs: seconds(86_400).default(3600),
    /** Files open at once per Kafka partition (one per table, dt and hour): a cut before more. */
    max_open_files: positiveInt(1000).default(24),
    /** Wall clock: a partition's oldest buffered record waits at most this long (freshness). */
    max_age_secs: seconds(3600).default(60),
    /** Wall clock: a partition that received nothing for this long is flushed. */
    max_idle_secs: seconds(3600).default(15),
    /** Input bytes buffered over all partitions; above it the fullest partition is flushed. */
    max_buffered_bytes: z.number().int().min(MIB).max(64 * 1024 * MIB).default(32 * MIB),
    /** With --until-idle: stop after no new records arrived for this long. */
    until_idle_secs: seconds(600).default(3),
    /** On SIGTERM: flush for at most this long, then abandon what is unwritten (re-read later). */
    shutdown_timeout_secs: seconds(3600).default(30),
  }).prefault({}),

  encode: z.strictObject({
    format: z.enum(["parquet", "jsonl"]).default("parquet"),
    row_group_size: positiveInt(10_000_000).default(100_000),
    /** format = "jsonl": gzip each file (.jsonl.gz). Parquet is always snappy-compressed. */
    gzip: z.boolean().default(false),
  }).refine((encode) => !encode.gzip || encode.format === "jsonl", {
    message: 'only for format = "jsonl" (Parquet files are snappy-compressed)',
    path: ["gzip"],
  }).prefault({}),

  store: z.strictObject({
    type: z.enum(["local", "s3"]).default("local"),
    /** Lake root for type = "local". */
    path: z.string().min(1).default("./lake"),
    table: tableName.default("ticker"),
    errors_table: tableName.default("ticker_errors"),
    /** type = "s3": the bucket, and an optional key prefix (no leading or trailing slash). */
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name")
      .optional(),
    prefix: z.string().max(MAX_PREFIX_LENGTH).regex(PREFIX_PATTERN, PREFIX_RULE).default(""),
    /** Default: the AWS default chain (AWS_REGION, profile, instance metadata). */
    region: awsRegion.optional(),
    /** For S3-compatible stores and tests; https only, except http on loopback. */
    endpoint: awsEndpoint.optional(),
    /** Path-style URLs (bucket in the path): needed by most S3 emulators, off for AWS. */
    force_path_style: z.boolean().default(false),
    /** Files at least this big go up as multipart uploads (S3's part minimum is 5 MiB). */
    multipart_threshold_bytes: z.number().int().min(5 * MIB).max(5 * 1024 * MIB).default(16 * MIB),
    part_size_bytes: z.number().int().min(5 * MIB).max(5 * 1024 * MIB).default(8 * MIB),
    /** Attempts per S3 request (the SDK's standard retry mode, with backoff). */
    max_attempts: z.number().int().min(1).max(20).default(5),
    /** A request that cannot connect, or goes this long without a byte, fails (and is retried). */
    connect_timeout_ms: positiveInt(120_000).default(5_000),
    request_timeout_ms: positiveInt(600_000).default(60_000),
    /** type = "s3": server-side encryption asked for on every write; unset: the bucket default. */
    sse: z.enum(["AES256", "aws:kms"]).optional(),
    /** sse = "aws:kms": the KMS key; unset: the AWS managed key aws/s3. */
    kms_key_id: kmsKeyId.optional(),
    /** type = "s3": every S3 call carries it; S3 refuses (403) if another account owns the bucket. */
    expected_bucket_owner: awsAccountId.optional(),
    /**
     * catalog --expire deletes dt= partitions older than this many days (local lake). On S3
     * the bucket's lifecycle rule does it (deploy/s3/lifecycle.json). Unset: keep everything.
     */
    retention_days: positiveInt(36_500).optional(),
  }).refine((store) => store.type !== "s3" || store.bucket !== undefined, {
    message: 'required when store.type = "s3"',
    path: ["bucket"],
  }).refine((store) => store.kms_key_id === undefined || store.sse === "aws:kms", {
    message: 'only with sse = "aws:kms"',
    path: ["kms_key_id"],
  }).prefault({}),

  catalog: z.strictObject({
    /** local: manifests beside a local lake, for DuckDB. glue: the AWS Glue Data Catalog. */
    type: z.enum(["local", "glue"]).default("local"),
    database: identifier.default("cryptopipe"),
    /** type = "glue": default from the AWS default chain. */
    region: awsRegion.optional(),
    /** type = "glue": for Glue-compatible emulators in tests. */
    endpoint: awsEndpoint.optional(),
    /**
     * type = "glue": projection (Athena computes partitions; nothing to register) or register
     * (each run adds the lake's dt/hour folders with BatchCreatePartition, for engines
     * without partition projection such as Spark on EMR or Redshift Spectrum).
     */
    partitions: z.enum(["projection", "register"]).default("projection"),
    /** type = "glue": the first day partition projection offers (dt); queries before it see nothing. */
    projection_start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be YYYY-MM-DD").default(
      "2025-01-01",
    ),
  }).prefault({}),

  query: z.strictObject({
    /** duckdb: the local lake. athena: the S3 lake through the Glue catalog. */
    engine: z.enum(["duckdb", "athena"]).default("duckdb"),
    /** chart: prices over time drawn in the terminal (needs a time and a price column). */
    format: z.enum(["table", "csv", "json", "chart"]).default("table"),
    /** Rows printed at most; more are counted and reported. */
    max_rows: positiveInt(10_000_000).default(10_000),
    /** engine = "athena": a dedicated workgroup (its settings may enforce the output location). */
    workgroup: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/).default("primary"),
    /** engine = "athena": where Athena writes result files, unless the workgroup enforces one. */
    output_location: z.string().regex(
      /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/,
      "must be s3://bucket/prefix/",
    )
      .optional(),
    /** engine = "athena": a query still running after this long is stopped (exit 3). */
    timeout_secs: seconds(86_400).default(300),
    /** engine = "athena": default from the AWS default chain. */
    region: awsRegion.optional(),
    /** engine = "athena": for emulators in tests. */
    endpoint: awsEndpoint.optional(),
    /** engine = "athena": encrypt result files (SSE_KMS needs output_kms_key). */
    output_encryption: z.enum(["SSE_S3", "SSE_KMS"]).optional(),
    output_kms_key: kmsKeyId.optional(),
    /** engine = "athena": Athena writes results only if this account owns the results bucket. */
    output_bucket_owner: awsAccountId.optional(),
  }).refine(
    (query) => (query.output_kms_key !== undefined) === (query.output_encryption === "SSE_KMS"),
    {
      message: 'required with output_encryption = "SSE_KMS", and only with it',
      path: ["output_kms_key"],
    },
  ).prefault({}),
});

/** Every source type, from the schema. */
export const SOURCE_TYPES: readonly string[] = sourceSchema.options.map((o) =>
  (o.shape.type as z.ZodLiteral<string>).value
);

export type Config = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type SaslConfig = z.infer<typeof saslSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;

/** The literal keys that would hold a secret; the TOML must name a source instead. */
export const LITERAL_SECRET_KEYS = new Set([
  "password",
  "secret",
  "token",
  "api_key",
  "secret_access_key",
  "session_token",
  "sasl_password",
]);

export type SchemaIssue = z.core.$ZodIssue;

export function validateConfig(
  raw: unknown,
): { ok: true; config: Config } | { ok: false; issues: readonly SchemaIssue[] } {
  const result = configSchema.safeParse(raw);
  return result.success
    ? { ok: true, config: result.data }
    : { ok: false, issues: result.error.issues };
}

// Schema walking, for "did you mean" hints and for typing environment overrides.

/** Walk the schema to the node at `path`, unwrapping defaults and picking union options by input. */
export function schemaAt(path: readonly PropertyKey[], input: unknown): z.ZodType | undefined {
  let node: z.ZodType | undefined = configSchema;
  let value: unknown = input;
  for (const key of [...path, undefined]) {
    // deno-lint-ignore no-explicit-any
    let def: any = node?._zod.def;
    while (def && ["default", "prefault", "optional", "nullable", "pipe"].includes(def.type)) {
      node = def.innerType ?? def.in;
      def = node?._zod.def;
    }
    if (def?.type === "union") {
      const tag = (value as Record<string, unknown> | undefined)?.[def.discriminator];
      node = def.options.find((o: z.ZodType) => {
        // deno-lint-ignore no-explicit-any
        const literal = (o._zod.def as any).shape?.[def.discriminator]?._zod.def.values?.[0];
        return literal === tag;
      }) ?? def.options[0];
      def = node?._zod.def;
    }
    if (key === undefined) return node;
    // Own keys only: "constructor" or "__proto__" from an environment name is no schema key.
    if (def?.type === "object") {
      node = Object.hasOwn(def.shape, key) ? def.shape[key as string] : undefined;
    } else if (def?.type === "record") node = def.valueType;
    else return undefined;
    value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  }
  return node;
}

export function shapeKeys(path: readonly PropertyKey[], input: unknown): string[] {
  // deno-lint-ignore no-explicit-any
  const def: any = schemaAt(path, input)?._zod.def;
  return def?.type === "object" ? Object.keys(def.shape) : [];
}

/** Environment values are strings; turn them into what the schema expects at that key. */
export function coerceEnvValue(value: string, target: z.ZodType): unknown {
  // deno-lint-ignore no-explicit-any
  let def: any = target._zod.def;
  while (["default", "prefault", "optional", "nullable"].includes(def.type)) {
    def = def.innerType._zod.def;
  }
  switch (def.type) {
    case "array":
      return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    case "number": {
      const n = Number(value);
      return value.trim() === "" || Number.isNaN(n) ? value : n;
    }
    case "boolean":
      return value === "true" ? true : value === "false" ? false : value;
    default:
      return value;
  }
}
