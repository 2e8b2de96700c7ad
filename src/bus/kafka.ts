/**
 * The Kafka bus, the only file that imports kafkajs. It maps kafkajs's errors onto the
 * exit-code table and its logs onto ours (kafkajs logs every retry as an error, which would
 * bury the one line an operator needs).
 */
import process from "node:process";
import {
  type Admin,
  CompressionCodecs,
  CompressionTypes,
  type Consumer as KafkaConsumer,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Producer,
  type SASLOptions,
} from "kafkajs";
import type { ConnectionOptions } from "node:tls";
import SnappyCodec from "kafkajs-snappy";
import type { LoadedConfig } from "../config/mod.ts";
import { AuthFailure, type CryptopipeError, messageOf, RuntimeFailure } from "../errors.ts";
import type { Logger } from "../log.ts";
import { mskIamTokenProvider, type MskTokenSigner } from "./msk_iam.ts";
import { TLS_VERIFY_CODES, TransportWatch } from "./transport_watch.ts";
import type {
  Bus,
  Consumer,
  ConsumerHandlers,
  GroupAdmin,
  GroupState,
  IncomingMessage,
  OffsetRange,
  OutgoingMessage,
  PartitionOffsets,
  Publisher,
  TopicPartition,
} from "./mod.ts";

silenceNegativeTimeoutWarning();

/**
 * kafkajs computes some timer delays that come out negative under Deno's Node layer, which
 * prints a TimeoutNegativeWarning per occurrence. The delay is clamped to 1 ms either way, so
 * the warning carries no information for an operator: drop exactly that one, keep the rest.
 */
function silenceNegativeTimeoutWarning(): void {
  const original = process.emitWarning.bind(process);
  // deno-lint-ignore no-explicit-any
  (process as any).emitWarning = (warning: unknown, ...rest: unknown[]) => {
    const name = typeof warning === "object" && warning !== null
      ? (warning as Error).name
      : rest[0];
    const text = typeof warning === "string" ? warning : (warning as Error)?.message ?? "";
    if (
      name === "TimeoutNegativeWarning" ||
      /is a negative number\.\s*Timeout duration was set to 1/.test(text)
    ) return;
    // deno-lint-ignore no-explicit-any
    return (original as any)(warning, ...rest);
  };
}

const AUTH_ERROR_TYPES = new Set([
  "SASL_AUTHENTICATION_FAILED",
  "ILLEGAL_SASL_STATE",
  "UNSUPPORTED_SASL_MECHANISM",
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);
const REBALANCE_ERROR_TYPES = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
]);

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current && chain.length < 10 && !chain.includes(current)) {
    chain.push(current);
    // deno-lint-ignore no-explicit-any
    const e = current as any;
    current = e.originalError ?? e.cause ?? e.retriableError;
  }
  return chain;
}

/** Turn a kafkajs failure into our error with one clear line. */
export function kafkaFailure(
  action: string,
  brokers: readonly string[],
  error: unknown,
): CryptopipeError {
  const chain = causes(error);
  // deno-lint-ignore no-explicit-any
  const auth = chain.find((e: any) =>
    e instanceof AuthFailure || e?.name === "KafkaJSSASLAuthenticationError" ||
    AUTH_ERROR_TYPES.has(e?.type) ||
    TLS_VERIFY_CODES.test(String(e?.code ?? ""))
  );
  if (auth) {
    return new AuthFailure(`Cannot ${action} at ${brokers.join(",")}: ${messageOf(auth)}`, {
      cause: error,
    });
  }
  // The Deno sandbox refused a connection (kafkajs keeps only the message of the NotCapable):
  // exit 4 like any refusal the CLI sees (src/cli.ts), never retried. Usually a broker that
  // advertises an address bus.brokers does not name, which is all this mode may open.
  const refused = chain.map((e) => /Requires net access to "([^"]+)"/.exec(messageOf(e)))
    .find((match) => match !== null);
  if (refused) {
    const address = refused[1];
    const hint = brokers.includes(address)
      ? "this mode's permissions (--print-permissions) lack it"
      : "bus.brokers does not name it; a broker advertises it: list that address in bus.brokers";
    return new AuthFailure(
      `Cannot ${action} at ${brokers.join(",")}: not permitted to connect to ${address} (${hint})`,
      { cause: error },
    );
  }
  // The innermost message is usually the concrete one ("connect ECONNREFUSED 127.0.0.1:9092").
  const detail = messageOf(chain[chain.length - 1]);
  const outer = messageOf(error);
  const reason = detail === outer ? outer : `${outer} (${detail})`;
  return new RuntimeFailure(`Cannot ${action} at ${brokers.join(",")}: ${reason}`, {
    cause: error,
  });
}

function kafkaLogCreator(logger: Logger) {
  const log = logger.child({ component: "kafkajs" });
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...fields } = entry;
    // Retries are expected and reported once by us when they run out: keep them at debug.
    if (level === logLevel.WARN && /rebalanc/i.test(message)) log.info(message);
    else log.debug(message, fields);
  };
}

/** kafkajs's `sasl` option from `[bus.sasl]`, or undefined without one. */
function saslOptions(
  config: LoadedConfig,
  logger: Logger,
  mskSigner: MskTokenSigner | undefined,
): SASLOptions | undefined {
  const sasl = config.bus.sasl;
  if (!sasl) return undefined;
  if (sasl.mechanism === "aws-msk-iam") {
    return {
      mechanism: "oauthbearer",
      oauthBearerProvider: mskIamTokenProvider(sasl.region!, logger, mskSigner),
    };
  }
  const password = config.secrets.busSaslPassword!.reveal();
  return { mechanism: sasl.mechanism, username: sasl.username!, password };
}

/**
 * kafkajs's `ssl` option (Node's tls.connect options) from `[bus.tls]`. Verification is always
 * on; tests/tls_verification_test.ts keeps any switch that turns it off out of the code.
 */
function tlsOptions(config: LoadedConfig): ConnectionOptions | undefined {
  if (!config.bus.tls) return undefined;
  const material = config.secrets.busTls ?? {};
  return {
    // Explicit, so Node's environment switch for it cannot turn verification off.
    rejectUnauthorized: true,
    ...(material.ca ? { ca: [material.ca] } : {}),
    ...(material.cert ? { cert: material.cert } : {}),
    ...(material.key ? { key: material.key.reveal() } : {}),
    ...(material.keyPassword ? { passphrase: material.keyPassword.reveal() } : {}),
    ...(material.serverName ? { servername: material.serverName } : {}),
  };
}

function kafkaConfig(
  config: LoadedConfig,
  logger: Logger,
  watch: TransportWatch,
  mskSigner?: MskTokenSigner,
): KafkaConfig {
  const { bus } = config;
  const sasl = saslOptions(config, logger, mskSigner);
  const ssl = tlsOptions(config);
  return {
    clientId: bus.client_id,
    brokers: bus.brokers,
    connectionTimeout: bus.connect_timeout_ms,
    requestTimeout: bus.request_timeout_ms,
    retry: {
      retries: bus.retry.retries,
      initialRetryTime: bus.retry.initial_ms,
      maxRetryTime: bus.retry.max_ms,
    },
    logLevel: logLevel.DEBUG,
    logCreator: kafkaLogCreator(logger),
    ...(sasl ? { sasl } : {}),
    ...(ssl ? { ssl } : {}),
    socketFactory: watch.socketFactory,
  };
}

const UTF8 = new TextDecoder();

function toIncoming(topic: string, partition: number, m: {
  offset: string;
  timestamp: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, unknown>;
}): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined && v !== null) headers[k] = String(v);
  }
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    key: m.key ? UTF8.decode(m.key) : null,
    value: m.value,
    headers,
  };
}

// kafkajs has only gzip built in. Snappy comes from a pure-JS codec (snappyjs), so it works in
// the compiled binary too; the zstd and lz4 plugins are native addons and are not offered.
// Registered once for producers (compress) and consumers (decompress) alike.
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
} as const;

class KafkaPublisher implements Publisher {
  constructor(
    readonly producer: Producer,
    readonly brokers: readonly string[],
    readonly compression: CompressionTypes,
  ) {}

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    try {
      await this.producer.send({
        topic,
        acks: -1,
        compression: this.compression,
        messages: messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: m.headers ? { ...m.headers } : undefined,
        })),
      });
    } catch (error) {
      throw kafkaFailure(`publish to topic ${topic}`, this.brokers, error);
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

class KafkaGroupConsumer implements Consumer {
  readonly failed: Promise<Error>;
  #fail!: (error: Error) => void;
  /**
   * Set once a handler failed. Its rows may have left the buffer unwritten, so no later batch
   * may be handled (a later flush would commit past them): the mode exits and a restart
   * re-reads from the last commit.
   */
  #broken = false;

  constructor(
    readonly consumer: KafkaConsumer,
    readonly topic: string,
    readonly brokers: readonly string[],
    readonly logger: Logger,
  ) {
    this.failed = new Promise((resolve) => {
      this.#fail = (error) => {
        this.#broken = true;
        resolve(error);
      };
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.#fail(kafkaFailure(`consume topic ${topic}`, brokers, event.payload.error));
    });
  }

  async start(handlers: ConsumerHandlers): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assigned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition });
      }
      handlers.onAssignment(assigned).catch((error) => this.#fail(error as Error));
    });
    try {
      await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isStale, isRunning }) => {
          if (this.#broken || !isRunning() || isStale() || batch.messages.length === 0) return;
          const messages = batch.messages.map((m) => toIncoming(batch.topic, batch.partition, m));
          const keepAlive = async () => {
            try {
              await heartbeat();
            } catch (error) {
              // A rebalance or a lost connection. Not fatal here: kafkajs meets it again on its
              // next fetch and rejoins (or fails for good after its retries), and nothing of
              // this batch is committed unless durable, so finishing the batch is safe.
              this.logger.debug("heartbeat failed; kafkajs will rejoin", {
                error: (error as Error).message,
              });
            }
          };
          try {
            await handlers.onMessages(messages, keepAlive);
          } catch (error) {
            // Not back to kafkajs: its retry would re-deliver rows the buffer now skips.
            this.#fail(error as Error);
            return;
          }
          resolveOffset(batch.lastOffset());
        },
      });
    } catch (error) {
      throw kafkaFailure(`consume topic ${this.topic}`, this.brokers, error);
    }
  }

  async commit(tp: TopicPartition, nextOffset: number): Promise<boolean> {
    try {
      await this.consumer.commitOffsets([{
        topic: tp.topic,
        partition: tp.partition,
        offset: String(nextOffset),
      }]);
      return true;
    } catch (error) {
      // The group is rebalancing: the files are durable, so the partition's next owner (maybe
      // us again) re-reads from the last commit and meets them. Nothing is lost; go on.
      if (
        causes(error).some((e) => REBALANCE_ERROR_TYPES.has((e as { type?: string })?.type ?? ""))
      ) {
        this.logger.info("commit skipped: the group is rebalancing", { partition: tp.partition });
        return false;
      }
      throw kafkaFailure(`commit offsets for ${tp.topic}[${tp.partition}]`, this.brokers, error);
    }
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** One admin connection, opened on first use through the transport watch (TLS fails fast). */
class LazyAdmin {
  #admin?: Admin;
  constructor(
    readonly kafka: Kafka,
    readonly watch: TransportWatch,
    readonly brokers: readonly string[],
  ) {}

  async get(): Promise<Admin> {
    if (!this.#admin) {
      const admin = this.kafka.admin();
      try {
        await this.watch.race(admin.connect());
      } catch (error) {
        throw kafkaFailure("connect to Kafka", this.brokers, error);
      }
      this.#admin = admin;
    }
    return this.#admin;
  }

  async disconnect(): Promise<void> {
    await this.#admin?.disconnect();
    this.#admin = undefined;
  }
}

class KafkaBus implements Bus {
  readonly #kafka: Kafka;
  /** Certificate and plaintext-vs-TLS failures end a connect at once instead of after retries. */
  readonly #watch = new TransportWatch();
  readonly #admin: LazyAdmin;
  readonly describe: string;

  constructor(
    readonly config: LoadedConfig,
    readonly logger: Logger,
    options: KafkaBusOptions = {},
  ) {
    this.#kafka = new Kafka(kafkaConfig(config, logger, this.#watch, options.mskSigner));
    this.#admin = new LazyAdmin(this.#kafka, this.#watch, config.bus.brokers);
    this.describe = `kafka ${config.bus.brokers.join(",")}`;
  }

  get brokers(): readonly string[] {
    return this.config.bus.brokers;
  }

  async ensureTopics(topics: readonly string[]): Promise<void> {
    const admin = await this.#admin.get();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: this.config.bus.topic_partitions,
          // -1: the broker's default.replication.factor (KIP-464), unless configured.
          replicationFactor: this.config.bus.topic_replication ?? -1,
        })),
      });
      this.logger.info("created topics", {
        topics: missing.join(","),
        partitions: this.config.bus.topic_partitions,
      });
    } catch (error) {
      // deno-lint-ignore no-explicit-any
      if ((error as any)?.type === "TOPIC_ALREADY_EXISTS") return;
      // kafkajs says only "Topic creation errors"; the reason is in its per-topic list.
      const first = (error as { errors?: { message?: string }[] })?.errors?.[0]?.message;
      throw kafkaFailure(
        `create topics ${topics.join(",")}${first ? ` (${first})` : ""}`,
        this.brokers,
        error,
      );
    }
  }

  async publisher(): Promise<Publisher> {
    const producer = this.#kafka.producer({
      idempotent: this.config.produce.idempotent,
      maxInFlightRequests: this.config.produce.max_in_flight,
      allowAutoTopicCreation: false,
    });
    try {
      await this.#watch.race(producer.connect());
    } catch (error) {
      throw kafkaFailure("connect to Kafka", this.brokers, error);
    }
    return new KafkaPublisher(producer, this.brokers, COMPRESSION[this.config.produce.compression]);
  }

  async consumer(topic: string, groupId: string): Promise<Consumer> {
    const session = this.config.bus.session_timeout_ms;
    const consumer = this.#kafka.consumer({
      groupId,
      sessionTimeout: session,
      heartbeatInterval: Math.max(500, Math.floor(session / 10)),
      allowAutoTopicCreation: false,
      // One fetch is held while its batch is handled: keep it small next to the batch buffers.
      maxBytes: 10 * 1024 * 1024,
      maxBytesPerPartition: 2 * 1024 * 1024,
      // A crash is final: the mode exits 3 and systemd decides about restarts.
      retry: {
        retries: this.config.bus.retry.retries,
        initialRetryTime: this.config.bus.retry.initial_ms,
        maxRetryTime: this.config.bus.retry.max_ms,
        restartOnFailure: () => Promise.resolve(false),
      },
    });
    try {
      await this.#watch.race(consumer.connect());
    } catch (error) {
      throw kafkaFailure("connect to Kafka", this.brokers, error);
    }
    return new KafkaGroupConsumer(consumer, topic, this.brokers, this.logger);
  }

  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const admin = await this.#admin.get();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map((o) => ({
        partition: o.partition,
        high: Number(o.high),
        low: Number(o.low),
      }));
    } catch (error) {
      throw kafkaFailure(`read offsets of topic ${topic}`, this.brokers, error);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
    const admin = await this.#admin.get();
    try {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const result = new Map<number, number>();
      for (const p of entry?.partitions ?? []) {
        if (Number(p.offset) >= 0) result.set(p.partition, Number(p.offset));
      }
      return result;
    } catch (error) {
      throw kafkaFailure(`read committed offsets of group ${groupId}`, this.brokers, error);
    }
  }

  async close(): Promise<void> {
    await this.#admin.disconnect();
  }
}

export interface KafkaBusOptions {
  /** Replaces AWS's MSK IAM signer; only tests pass one (a stub signer, named so there). */
  readonly mskSigner?: MskTokenSigner;
}

export function createKafkaBus(
  config: LoadedConfig,
  logger: Logger,
  options: KafkaBusOptions = {},
): Bus {
  return new KafkaBus(config, logger, options);
}

// ---------------------------------------------------------------------------------------------
// Reprocessing admin (consume --reset-offsets, consume --reread): group state, offsets by time,
// setting a group's committed offsets, and reading a bounded offset range without committing.
// A client of its own, so none of this touches the bus's producer and consumer connections.
// ---------------------------------------------------------------------------------------------

class KafkaGroupAdmin implements GroupAdmin {
  readonly #kafka: Kafka;
  readonly #watch = new TransportWatch();
  readonly #admin: LazyAdmin;

  constructor(readonly config: LoadedConfig, readonly logger: Logger) {
    this.#kafka = new Kafka(kafkaConfig(config, logger, this.#watch));
    this.#admin = new LazyAdmin(this.#kafka, this.#watch, config.bus.brokers);
  }

  get brokers(): readonly string[] {
    return this.config.bus.brokers;
  }

  async groupState(groupId: string): Promise<GroupState> {
    const admin = await this.#admin.get();
    try {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups.find((g) => g.groupId === groupId);
      return {
        state: group?.state ?? "Dead",
        members: (group?.members ?? []).map((m) => `${m.clientId}@${m.clientHost}`),
      };
    } catch (error) {
      throw kafkaFailure(`describe consumer group ${groupId}`, this.brokers, error);
    }
  }

  async offsetsAtTime(topic: string, epochMs: number): Promise<Map<number, number>> {
    const admin = await this.#admin.get();
    try {
      // The first offset whose timestamp is at or after epochMs; the log end when none is.
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, epochMs);
      return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
    } catch (error) {
      throw kafkaFailure(`look up offsets of topic ${topic} by time`, this.brokers, error);
    }
  }

  async setCommittedOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyMap<number, number>,
  ): Promise<void> {
    const admin = await this.#admin.get();
    try {
      // kafkajs checks again that the group is Empty or Dead (no live member) before it commits.
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [...offsets].map(([partition, offset]) => ({
          partition,
          offset: String(offset),
        })),
      });
    } catch (error) {
      throw kafkaFailure(`set committed offsets of group ${groupId}`, this.brokers, error);
    }
  }

  async readRange(
    topic: string,
    ranges: readonly OffsetRange[],
    onMessages: (messages: readonly IncomingMessage[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const pending = new Map(ranges.filter((r) => r.to > r.from).map((r) => [r.partition, r]));
    if (pending.size === 0 || signal.aborted) return;
    // Where each partition goes on: after a rejoin the throwaway group has no offsets, so every
    // join seeks here (not to the range start: that would deliver a batch twice).
    const next = new Map([...pending.values()].map((r) => [r.partition, r.from]));
    // The handler's own errors go out as they are, not as Kafka failures.
    const handlerErrors = new WeakSet<object>();
    // A throwaway group: it never commits, so nothing of it outlives the read, and the
    // lake's own group is not touched. It is deleted at the end.
    const groupId = `${this.config.bus.group_id}.reread-${crypto.randomUUID().slice(0, 8)}`;
    const consumer = this.#kafka.consumer({
      groupId,
      sessionTimeout: this.config.bus.session_timeout_ms,
      heartbeatInterval: Math.max(500, Math.floor(this.config.bus.session_timeout_ms / 10)),
      allowAutoTopicCreation: false,
      maxBytes: 10 * 1024 * 1024,
      maxBytesPerPartition: 2 * 1024 * 1024,
      retry: {
        retries: this.config.bus.retry.retries,
        initialRetryTime: this.config.bus.retry.initial_ms,
        maxRetryTime: this.config.bus.retry.max_ms,
        restartOnFailure: () => Promise.resolve(false),
      },
    });
    let fail!: (error: Error) => void;
    let done!: () => void;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      fail = reject;
    });
    const onAbort = () => done();
    signal.addEventListener("abort", onAbort, { once: true });
    consumer.on(consumer.events.CRASH, (event) => {
      fail(kafkaFailure(`read topic ${topic}`, this.brokers, event.payload.error));
    });
    try {
      await this.#watch.race(consumer.connect());
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        // Partitions outside the ranges are paused: the group has no offsets, so they would
        // otherwise be read from the beginning for nothing.
        const assigned = event.payload.memberAssignment[topic] ?? [];
        const idle = assigned.filter((p) => !pending.has(p));
        if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
        for (const partition of pending.keys()) {
          if (!assigned.includes(partition)) continue;
          consumer.seek({ topic, partition, offset: String(next.get(partition)) });
        }
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, isRunning, isStale, resolveOffset, heartbeat }) => {
          const range = pending.get(batch.partition);
          if (!range || !isRunning() || isStale()) return;
          const inRange = batch.messages
            .filter((m) => Number(m.offset) >= range.from && Number(m.offset) < range.to)
            .map((m) => toIncoming(batch.topic, batch.partition, m));
          try {
            if (inRange.length > 0) await onMessages(inRange);
          } catch (error) {
            if (typeof error === "object" && error !== null) handlerErrors.add(error);
            fail(error as Error);
            return;
          }
          // Without resolving, kafkajs fetches this batch again (auto-resolve is off so that a
          // failed handler never moves the position).
          resolveOffset(batch.lastOffset());
          next.set(batch.partition, Number(batch.lastOffset()) + 1);
          await heartbeat();
          if (Number(batch.lastOffset()) >= range.to - 1) {
            pending.delete(batch.partition);
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            if (pending.size === 0) done();
          }
        },
      });
      await finished;
    } catch (error) {
      if (error instanceof Error && "exitCode" in error) throw error;
      if (typeof error === "object" && error !== null && handlerErrors.has(error)) throw error;
      throw kafkaFailure(`read topic ${topic}`, this.brokers, error);
    } finally {
      signal.removeEventListener("abort", onAbort);
      await consumer.disconnect().catch(() => {});
      try {
        const admin = await this.#admin.get();
        await admin.deleteGroups([groupId]);
      } catch (error) {
        this.logger.debug("could not delete the throwaway group", {
          group: groupId,
          error: messageOf(error),
        });
      }
    }
  }

  async close(): Promise<void> {
    await this.#admin.disconnect();
  }
}

export function createKafkaGroupAdmin(config: LoadedConfig, logger: Logger): GroupAdmin {
  return new KafkaGroupAdmin(config, logger);
}
