/**
 * produce: run the configured sources, publish valid records as JSON to the topic (keyed
 * source:symbol, acks=all, batched) and rejected input to the rejects topic. Stops on
 * --max-records, --duration, a signal, or when every source is exhausted (replay).
 */
import {
  createBus,
  type OutgoingMessage,
  type Publisher,
  rejectsTopic,
  statusTopic,
} from "../bus/mod.ts";
import { UsageError } from "../errors.ts";
import { encodeRecord, messageKey, SCHEMA_HEADER, TICKER_SCHEMA_ID } from "../record/mod.ts";
import {
  createSource,
  type Rejected,
  type Source,
  type SourceItem,
  STATUS_SCHEMA_ID,
} from "../source/mod.ts";
import { type ModeContext, Mutex } from "./context.ts";
import { TtyProgress } from "./progress_bar.ts";

export const REJECT_SCHEMA_ID = "cryptopipe.reject.v1";
const PROGRESS_EVERY_MS = 5_000;

export interface ProduceSummary {
  readonly records: number;
  readonly rejects: number;
  readonly seconds: number;
}

function rejectMessage(source: string, rejected: Rejected): OutgoingMessage {
  return {
    key: source,
    value: JSON.stringify({
      schema: REJECT_SCHEMA_ID,
      source,
      origin: rejected.origin,
      problems: rejected.problems,
      raw: rejected.raw,
      rejected_at: Date.now(),
    }),
    headers: { [SCHEMA_HEADER]: REJECT_SCHEMA_ID },
  };
}

/** A progress bar over the finite sources (replay files), only when stderr is a terminal. */
function replayProgress(
  sources: readonly Source[],
  records: () => number,
): TtyProgress | undefined {
  const finite = sources.filter((s) => s.progress);
  if (finite.length === 0 || !Deno.stderr.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  return new TtyProgress((text) => Deno.stderr.writeSync(encoder.encode(text)), () => {
    const parts = finite.map((s) => s.progress!());
    return {
      done: parts.reduce((sum, p) => sum + p.done, 0),
      total: parts.reduce((sum, p) => sum + p.total, 0),
      records: records(),
    };
  });
}

export async function produce(ctx: ModeContext): Promise<ProduceSummary> {
  const { config, logger, flags } = ctx;
  const names = flags.sources && flags.sources.length > 0
    ? flags.sources
    : Object.keys(config.sources);
  for (const name of names) {
    if (!config.sources[name]) {
      throw new UsageError(
        `Unknown source ${JSON.stringify(name)} (--source); configured: ${
          Object.keys(config.sources).join(", ") || "none"
        }`,
      );
    }
  }
  if (names.length === 0) {
    throw new UsageError(`No source configured: add a [sources.<name>] table to ${config.file}`);
  }
  const topic = config.bus.topic;
  const rejects = rejectsTopic(config);
  const statuses = statusTopic(config);
  const bus = createBus(config, logger);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  ctx.signal.addEventListener("abort", onSignal, { once: true });
  const timer = flags.durationMs ? setTimeout(() => stop.abort(), flags.durationMs) : undefined;
  const started = Date.now();
  let publisher: Publisher | undefined;
  let records = 0;
  let rejected = 0;
  try {
    await bus.ensureTopics([topic, rejects, statuses]);
    publisher = await bus.publisher();
    const out = publisher;
    logger.info("producing", { topic, sources: names.join(","), bus: bus.describe });
    const send = new Mutex();
    let pending: OutgoingMessage[] = [];
    let pendingRejects: OutgoingMessage[] = [];
    let pendingStatus: OutgoingMessage[] = [];
    let lastProgress = Date.now();
    const flush = () =>
      send.run(async () => {
        const batch = pending;
        const batchRejects = pendingRejects;
        const batchStatus = pendingStatus;
        pending = [];
        pendingRejects = [];
        pendingStatus = [];
        if (batch.length > 0) await out.send(topic, batch);
        if (batchRejects.length > 0) await out.send(rejects, batchRejects);
        if (batchStatus.length > 0) await out.send(statuses, batchStatus);
        records += batch.length;
        rejected += batchRejects.length;
        if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = Date.now();
          const seconds = (lastProgress - started) / 1000;
          logger.info("progress", {
            records,
            rejects: rejected,
            per_second: Math.round(records / seconds),
          });
        }
      });
    let failure: unknown;
    const ticker = setInterval(() =>
      flush().catch((error) => {
        failure ??= error;
        stop.abort();
      }), config.produce.batch_max_ms);
    // Counted when a record is taken, not when its send completes: sends overlap with taking.
    let accepted = 0;
    let progressBar: TtyProgress | undefined;
    const take = async (source: string, items: SourceItem[]) => {
      for (const item of items) {
        if (item.kind === "status") {
          pendingStatus.push({
            key: item.status.source,
            value: JSON.stringify(item.status),
            headers: { [SCHEMA_HEADER]: STATUS_SCHEMA_ID },
          });
          const level = item.status.event === "connected" ? "info" : "warn";
          logger[level](`feed ${item.status.event}: ${item.status.detail}`, {
            source: item.status.source,
            ...(item.status.symbol ? { symbol: item.status.symbol } : {}),
          });
          continue;
        }
        if (item.kind === "rejected") {
          pendingRejects.push(rejectMessage(source, item.rejected));
          logger.warn("rejected input sent to the rejects topic", {
            source,
            origin: item.rejected.origin,
            problem: item.rejected.problems[0],
          });
          continue;
        }
        if (flags.maxRecords !== undefined && accepted >= flags.maxRecords) {
          stop.abort();
          return;
        }
        pending.push({
          key: messageKey(item.record),
          value: encodeRecord(item.record),
          headers: { [SCHEMA_HEADER]: TICKER_SCHEMA_ID },
        });
        accepted++;
        if (pending.length >= config.produce.batch_max_records) await flush();
      }
      if (flags.maxRecords !== undefined && accepted >= flags.maxRecords) stop.abort();
    };
    try {
      const sources = names.map((name) =>
        createSource(name, config.sources[name], {
          logger,
          apiKey: config.secrets.sourceApiKeys[name],
        })
      );
      progressBar = replayProgress(sources, () => accepted);
      await Promise.all(sources.map(async (source) => {
        for await (const items of source.items(stop.signal)) {
          await take(source.name, items);
          if (stop.signal.aborted) break;
        }
      }));
    } finally {
      clearInterval(ticker);
      progressBar?.stop();
    }
    if (failure) throw failure;
    await flush();
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onSignal);
    await publisher?.close().catch(() => {});
    await bus.close().catch(() => {});
  }
  const seconds = (Date.now() - started) / 1000;
  logger.info("produce finished", { records, rejects: rejected, seconds: seconds.toFixed(1) });
  return { records, rejects: rejected, seconds };
}
