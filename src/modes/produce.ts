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
import { redact } from "../config/mod.ts";
import { RuntimeFailure, UsageError } from "../errors.ts";
import { within } from "../shutdown.ts";
import { encodeRecord, messageKey, SCHEMA_HEADER, TICKER_SCHEMA_ID } from "../record/mod.ts";
import {
  createSource,
  type Rejected,
  type Source,
  type SourceItem,
  STATUS_SCHEMA_ID,
} from "../source/mod.ts";
import { type ModeContext, Mutex } from "./context.ts";
import { SINK_COMPONENT, sourceComponent, Telemetry } from "../observe/mod.ts";
import { TtyProgress } from "./progress_bar.ts";

export const REJECT_SCHEMA_ID = "cryptopipe.reject.v1";
const PROGRESS_EVERY_MS = 5_000;
/** Rejects logged one by one before only every thousandth is. */
const LOGGED_INDIVIDUALLY = 20;
/** Leaving Kafka is capped: a dead broker must not hold the stop. */
const CLOSE_TIMEOUT_MS = 5_000;

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
      // A provider's error body may echo the API key it was sent: rejects are redacted too.
      origin: redact(rejected.origin),
      problems: rejected.problems.map(redact),
      raw: redact(rejected.raw),
      rejected_at: Date.now(),
    }),
    headers: { [SCHEMA_HEADER]: REJECT_SCHEMA_ID },
  };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
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
  const telemetry = ctx.telemetry ?? new Telemetry("produce");
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
  const bus = createBus(config, logger.child({ component: "bus" }));
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  ctx.signal.addEventListener("abort", onSignal, { once: true });
  const timer = flags.durationMs ? setTimeout(() => stop.abort(), flags.durationMs) : undefined;
  const started = Date.now();
  let publisher: Publisher | undefined;
  /** When the stop began (signal, --duration, --max-records or the end of input). */
  let stoppedAt: number | undefined;
  stop.signal.addEventListener("abort", () => (stoppedAt ??= Date.now()), { once: true });
  const remaining = () =>
    Math.max(
      0,
      (stoppedAt ?? Date.now()) + config.produce.shutdown_timeout_secs * 1000 - Date.now(),
    );
  const late = () =>
    new RuntimeFailure(
      `Kafka did not take the last batch within produce.shutdown_timeout_secs = ${config.produce.shutdown_timeout_secs}; the records of that batch may not be published`,
    );
  let records = 0;
  let rejected = 0;
  try {
    await bus.ensureTopics([topic, rejects, statuses]);
    publisher = await bus.publisher();
    const out = publisher;
    logger.info("producing", { topic, sources: names.join(","), bus: bus.describe });
    ctx.notifier?.ready(`producing to ${topic} from ${names.join(", ")}`);
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
        const sendStarted = performance.now();
        try {
          if (batch.length > 0) await out.send(topic, batch);
          if (batchRejects.length > 0) await out.send(rejects, batchRejects);
          if (batchStatus.length > 0) await out.send(statuses, batchStatus);
        } catch (error) {
          telemetry.errors.inc({ mode: "produce", kind: "send_failed" });
          throw error;
        }
        observeSend(telemetry, topic, batch, performance.now() - sendStarted);
        records += batch.length;
        rejected += batchRejects.length;
        // Every timed flush ends here, even an empty one: a send stuck on Kafka stops the pets.
        ctx.notifier?.alive();
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
    let ticking = false;
    const ticker = setInterval(() => {
      // One timed flush at a time: a slow broker must not pile up a queue of them.
      if (ticking) return;
      ticking = true;
      flush().catch((error) => {
        failure ??= error;
        stop.abort();
      }).finally(() => ticking = false);
    }, config.produce.batch_max_ms);
    // Counted when a record is taken, not when its send completes: sends overlap with taking.
    let accepted = 0;
    let rejectsTaken = 0;
    /** Sources that ended on an error they do not retry (451, 4xx). */
    const stoppedForGood = new Set<string>();
    let progressBar: TtyProgress | undefined;
    const take = async (source: string, items: SourceItem[]) => {
      for (const item of items) {
        if (item.kind === "status") {
          pendingStatus.push({
            key: item.status.source,
            // Its detail may quote a provider's answer, which may echo the key it was sent.
            value: JSON.stringify({ ...item.status, detail: redact(item.status.detail) }),
            headers: { [SCHEMA_HEADER]: STATUS_SCHEMA_ID },
          });
          if (pendingStatus.length >= config.produce.batch_max_records) await flush();
          // A source that stopped for good (451, 4xx) or is banned is an error; a clean stop
          // and a connect are news; anything else (a reconnect, a gap) is a warning.
          const { event, detail } = item.status;
          if (event === "stopped" && detail !== "stopped on request") stoppedForGood.add(source);
          observeStatus(telemetry, source, event, detail);
          const level = event === "connected" || detail === "stopped on request"
            ? "info"
            : event === "stopped" || /\bbanned\b|pauses for/.test(detail)
            ? "error"
            : "warn";
          logger[level](`feed ${item.status.event}: ${item.status.detail}`, {
            source: item.status.source,
            ...(item.status.symbol ? { symbol: item.status.symbol } : {}),
          });
          continue;
        }
        if (item.kind === "rejected") {
          pendingRejects.push(rejectMessage(source, item.rejected));
          telemetry.deadLetters.inc({ mode: "produce", code: "reject" });
          telemetry.errors.inc({ mode: "produce", kind: "reject" });
          // Each of the first few, then every thousandth: a garbage feed must not drown the
          // log (the progress line carries the total).
          if (++rejectsTaken <= LOGGED_INDIVIDUALLY || rejectsTaken % 1000 === 0) {
            logger.warn("rejected input sent to the rejects topic", {
              source,
              origin: item.rejected.origin,
              problem: item.rejected.problems[0],
              rejects_total: rejectsTaken,
            });
          }
          if (pendingRejects.length >= config.produce.batch_max_records) await flush();
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
        telemetry.recordTaken(source, item.record.symbol, item.record.event_time);
        if (pending.length >= config.produce.batch_max_records) await flush();
      }
      if (flags.maxRecords !== undefined && accepted >= flags.maxRecords) stop.abort();
    };
    try {
      const sources = names.map((name) =>
        createSource(name, config.sources[name], {
          logger: logger.child({ component: sourceComponent(name) }),
          apiKey: config.secrets.sourceApiKeys[name],
        })
      );
      progressBar = replayProgress(sources, () => accepted);
      telemetry.health.watch(SINK_COMPONENT, "sink");
      for (const source of sources) telemetry.health.watch(sourceComponent(source.name), "source");
      const running = Promise.all(sources.map(async (source) => {
        // Sources end soon after the stop (bounded by the deadline below); their last batch
        // carries the final status event, so it is still taken.
        for await (const items of source.items(stop.signal)) await take(source.name, items);
        // A source that ended (replay) is not stale; one that stopped on an error stays watched.
        if (!stoppedForGood.has(source.name)) telemetry.health.forget(sourceComponent(source.name));
      }));
      // Once asked to stop, a send stuck on a dead broker must not hold the process: the
      // sources, their last sends and the final flush share one deadline.
      await Promise.race([running, stop.signal.aborted ? undefined : aborted(stop.signal)]);
      stoppedAt ??= Date.now();
      if (!stop.signal.aborted) await running;
      else if (!(await within(running, remaining()))) throw late();
      if (stoppedForGood.size === sources.length) {
        // Nothing left to wait for: a supervisor should see the failure, not a clean exit.
        throw new RuntimeFailure(
          `every source stopped on an error it does not retry (${
            [...stoppedForGood].join(", ")
          }); see the error lines above`,
        );
      }
    } finally {
      clearInterval(ticker);
      progressBar?.stop();
    }
    if (failure) throw failure;
    let flushError: unknown;
    const flushed = await within(flush().catch((error) => (flushError = error)), remaining());
    if (flushError) throw flushError;
    if (!flushed) throw late();
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onSignal);
    await within(publisher?.close().catch(() => {}) ?? Promise.resolve(), CLOSE_TIMEOUT_MS);
    await within(bus.close().catch(() => {}), CLOSE_TIMEOUT_MS);
  }
  const seconds = (Date.now() - started) / 1000;
  logger.info("produce finished", { records, rejects: rejected, seconds: seconds.toFixed(1) });
  return { records, rejects: rejected, seconds };
}

/** A batch Kafka acknowledged: counters, the send latency, and the sink's progress. */
function observeSend(
  telemetry: Telemetry,
  topic: string,
  batch: readonly OutgoingMessage[],
  elapsedMs: number,
): void {
  const now = Date.now();
  // Every round counts as progress, an empty one too: only a send that hangs ages the sink.
  telemetry.health.progress(SINK_COMPONENT, now);
  if (batch.length === 0) return;
  telemetry.recordsOut.inc({ mode: "produce", target: topic }, batch.length);
  // Record values are ASCII JSON, so their length is their size in bytes.
  telemetry.bytesOut.inc({ mode: "produce" }, batch.reduce((sum, m) => sum + m.value.length, 0));
  telemetry.flushSeconds.observe({ mode: "produce" }, elapsedMs / 1000);
  telemetry.lastSend.set({}, now / 1000);
}

/** A feed status event: counted; a connect is progress, trouble is an error of its kind. */
function observeStatus(telemetry: Telemetry, source: string, event: string, detail: string): void {
  telemetry.statusEvents.inc({ source, event });
  if (event === "connected") telemetry.health.progress(sourceComponent(source));
  else if (!(event === "stopped" && detail === "stopped on request")) {
    telemetry.errors.inc({ mode: "produce", kind: `feed_${event}` });
  }
}
