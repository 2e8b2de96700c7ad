/**
 * consume: Kafka consumer group → lake files, exactly once as seen by lake readers. The file
 * logic lives in LakeWriter; this file drives it: message batches, the flush timer, commits
 * after durable writes, rebalances, --until-idle and graceful shutdown.
 */
import type { BatchLimits, FlushReason } from "../batch/mod.ts";
import { createBus, type IncomingMessage, type TopicPartition } from "../bus/mod.ts";
import type { LoadedConfig } from "../config/mod.ts";
import { createEncoder } from "../encode/mod.ts";
import { createStore, type Store } from "../store/mod.ts";
import { within } from "../shutdown.ts";
import { type ModeContext, Mutex } from "./context.ts";
import { LakeWriter, type PreparedRow } from "./lake_writer.ts";
import { SINK_COMPONENT, Telemetry } from "../observe/mod.ts";

export interface ConsumeSummary {
  readonly rows: number;
  readonly errorRows: number;
  readonly unknownSchema: number;
  readonly files: number;
  readonly bytesIn: number;
  readonly skippedExisting: number;
  readonly seconds: number;
  /** From the first message to the last commit: the working time, without idle waits. */
  readonly busySeconds: number;
}

const TICK_MS = 250;
const PROGRESS_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** How often consumer lag is measured (two admin requests). */
const LAG_EVERY_MS = 2_000;

/** `store` is the configured one; tests pass a fault-injecting wrapper around it. */
export async function consume(
  ctx: ModeContext,
  store: Store = createStore(ctx.config),
): Promise<ConsumeSummary> {
  const { config, logger, flags } = ctx;
  const telemetry = ctx.telemetry ?? new Telemetry("consume");
  const topic = config.bus.topic;
  const groupId = config.bus.group_id;
  const writer = new LakeWriter(
    store,
    createEncoder(config.encode.format, {
      rowGroupSize: config.encode.row_group_size,
      gzip: config.encode.gzip,
    }),
    { records: config.store.table, errors: config.store.errors_table },
    batchLimits(config.batch),
    logger.child({ component: "lake_writer" }),
  );
  const bus = createBus(config, logger.child({ component: "bus" }));
  const maxBuffered = config.batch.max_buffered_bytes;
  const lock = new Mutex();
  const started = Date.now();
  let assigned: readonly TopicPartition[] | undefined;
  let lastActivity = Date.now();
  let firstMessageAt: number | undefined;
  let lastCommitAt: number | undefined;
  const committed = new Map<number, number>();
  const flushesByReason: Partial<Record<FlushReason, number>> = {};
  const lakeMetrics = lakeWriterMetrics(telemetry, writer);

  const flushAndCommit = async (
    tp: TopicPartition,
    reason: FlushReason,
    heartbeat?: () => Promise<void>,
  ) => {
    // Heartbeat between files, so a long flush (many buckets, S3 retries) keeps the session.
    const flushStarted = performance.now();
    const result = await writer.flush(tp, heartbeat).catch((error) => {
      telemetry.errors.inc({ mode: "consume", kind: "flush_failed" });
      throw error;
    });
    flushesByReason[reason] = (flushesByReason[reason] ?? 0) + 1;
    if (result.commit !== undefined && committed.get(tp.partition) !== result.commit) {
      if (await consumer.commit(tp, result.commit)) {
        committed.set(tp.partition, result.commit);
        lastCommitAt = Date.now();
      }
    }
    lakeMetrics.flushed(tp.partition, reason, result.files, performance.now() - flushStarted);
    if (result.files > 0) {
      logger.info("flushed", {
        partition: tp.partition,
        reason,
        files: result.files,
        rows: result.rows,
        committed: result.commit ?? "held",
      });
    }
  };
  const flushAll = (reason: FlushReason) =>
    lock.run(async () => {
      for (const tp of writer.partitions()) await flushAndCommit(tp, reason);
    });

  await bus.ensureTopics([topic]);
  const consumer = await bus.consumer(topic, groupId);
  logger.info("consuming", {
    topic,
    group: groupId,
    lake: store.describe,
    format: config.encode.format,
  });

  let lastProgress = Date.now();
  let progressRows = 0;
  const reportProgress = () => {
    const now = Date.now();
    const { rows, errorRows, unknownSchema, files } = writer.stats;
    const memory = Deno.memoryUsage();
    logger.info("progress", {
      rows,
      rows_per_sec: Math.round((rows - progressRows) / ((now - lastProgress) / 1000)),
      dead_letters: errorRows,
      unknown_schema: unknownSchema,
      files,
      buffered_bytes: writer.bufferedBytes,
      rss_mb: Math.round(memory.rss / 1048576),
      heap_mb: Math.round(memory.heapUsed / 1048576),
      flushes: JSON.stringify(flushesByReason),
    });
    lastProgress = now;
    progressRows = rows;
  };

  let failTick!: (error: Error) => void;
  const tickFailed = new Promise<never>((_, reject) => (failTick = reject));
  let stopTick: (() => void) | undefined;
  const finished = new Promise<"idle" | "signal">((resolve) => {
    const onSignal = () => resolve("signal");
    ctx.signal.addEventListener("abort", onSignal, { once: true });
    let checking = false;
    const tick = setInterval(async () => {
      if (checking) return;
      checking = true;
      try {
        await lock.run(async () => {
          for (const { tp, reason } of writer.due(Date.now())) await flushAndCommit(tp, reason);
          // Nothing waiting: the lake is not behind, whatever the last write's age.
          if (writer.bufferedBytes === 0) telemetry.health.progress(SINK_COMPONENT);
        });
        // A flush stuck on the store holds the lock and so stops the watchdog pets.
        ctx.notifier?.alive();
        if (Date.now() - lastLagCheck >= LAG_EVERY_MS && assigned) {
          lastLagCheck = Date.now();
          await measureLag();
        }
        if (Date.now() - lastProgress >= PROGRESS_MS) reportProgress();
        if (
          flags.untilIdle && assigned &&
          Date.now() - lastActivity >= config.batch.until_idle_secs * 1000
        ) {
          await flushAll("until_idle");
          if (await caughtUp()) resolve("idle");
        }
      } catch (error) {
        failTick(error as Error);
      } finally {
        checking = false;
      }
    }, TICK_MS);
    stopTick = () => {
      clearInterval(tick);
      ctx.signal.removeEventListener("abort", onSignal);
    };
  });

  let lastLagCheck = 0;
  /** Consumer lag per assigned partition: high watermark minus the group's committed offset. */
  const measureLag = async () => {
    try {
      const mine = new Set(
        (assigned ?? []).filter((tp) => tp.topic === topic).map((tp) => tp.partition),
      );
      const offsets = await bus.topicOffsets(topic);
      const fromGroup = await bus.committedOffsets(groupId, topic);
      for (const o of offsets) {
        const labels = { topic, partition: o.partition };
        if (!mine.has(o.partition)) {
          telemetry.consumerLag.remove(labels);
          continue;
        }
        const done = Math.max(committed.get(o.partition) ?? -1, fromGroup.get(o.partition) ?? -1);
        telemetry.consumerLag.set(labels, Math.max(0, o.high - (done >= 0 ? done : o.low)));
      }
    } catch (error) {
      // A metric, not the work: a failed measurement is counted, and consume goes on.
      telemetry.errors.inc({ mode: "consume", kind: "lag_check_failed" });
      logger.debug("consumer lag not measured", { error: (error as Error).message });
    }
  };

  /** Every assigned partition committed up to its high watermark (or empty). */
  const caughtUp = async (): Promise<boolean> => {
    const mine = new Set(
      (assigned ?? []).filter((tp) => tp.topic === topic).map((tp) => tp.partition),
    );
    if (mine.size === 0) return assigned !== undefined;
    const offsets = await bus.topicOffsets(topic);
    const fromGroup = await bus.committedOffsets(groupId, topic);
    return offsets.filter((o) => mine.has(o.partition)).every((o) => {
      // Another member may have committed further since a rebalance: take the larger.
      const done = Math.max(committed.get(o.partition) ?? -1, fromGroup.get(o.partition) ?? -1);
      return o.high === o.low || done >= o.high;
    });
  };

  telemetry.health.watch(SINK_COMPONENT, "sink");
  try {
    await consumer.start({
      onAssignment: (tps) =>
        lock.run(() => {
          assigned = tps;
          lastActivity = Date.now();
          // kafkajs restarts every assigned partition from its committed offset after a
          // join, so every buffer is re-read anyway: start clean rather than splice a buffer
          // of an earlier ownership onto what another member committed meanwhile.
          writer.reset();
          const mine = new Set(tps.map((tp) => tp.partition));
          for (const partition of [...committed.keys()]) {
            if (!mine.has(partition)) committed.delete(partition);
          }
          logger.info("partitions assigned", {
            partitions: tps.map((tp) => tp.partition).join(",") || "none",
          });
          // Joined the group: the first real success. STATUS follows every rebalance.
          const status = `consuming ${topic} (partitions ${
            tps.map((tp) => tp.partition).join(",") || "none"
          })`;
          ctx.notifier?.ready(status);
          return Promise.resolve();
        }),
      onMessages: (messages, heartbeat) =>
        lock.run(async () => {
          const now = Date.now();
          lastActivity = now;
          firstMessageAt ??= now;
          lakeMetrics.read(messages);
          for (const message of messages) {
            const row = writer.prepare(message);
            if (!row) continue; // re-delivered
            // Record-derived cuts first (span, open files), then the row, then cuts by size
            // (checked per row, so no file outgrows its limits), then the memory bound.
            const before = writer.cutBefore(message, row);
            if (before) await flushAndCommit(message, before, heartbeat);
            writer.accept(message, row, now);
            lakeMetrics.accepted(message.partition, row);
            const after = writer.dueFor(message, now);
            if (after) await flushAndCommit(message, after, heartbeat);
            if (writer.bufferedBytes > maxBuffered) {
              // Reading waits while the fullest partition is written out: that is the pause.
              const fullest = writer.fullest();
              if (fullest) await flushAndCommit(fullest, "memory", heartbeat);
            }
          }
        }),
    });
    const how = await Promise.race([
      finished,
      consumer.failed.then((e) => Promise.reject(e)),
      tickFailed,
    ]);
    stopTick?.();
    if (how === "signal") {
      const deadline = config.batch.shutdown_timeout_secs * 1000;
      if (!(await within(flushAll("shutdown"), deadline))) {
        // Safe: nothing was committed past the unwritten rows, and a file still being
        // written is a temp file or an incomplete upload, never a visible object.
        logger.warn("shutdown deadline passed: abandoning unwritten buffers", {
          deadline_secs: config.batch.shutdown_timeout_secs,
          note: "they are re-read from the last commit on the next start",
        });
      }
    }
  } finally {
    stopTick?.();
    // Leaving the group is bounded too: a stuck broker must not hold the stop.
    await within(consumer.close().catch(() => {}), CLOSE_TIMEOUT_MS);
    await within(bus.close().catch(() => {}), CLOSE_TIMEOUT_MS);
  }
  const seconds = (Date.now() - started) / 1000;
  const busySeconds = firstMessageAt !== undefined && lastCommitAt !== undefined
    ? Math.max(0, lastCommitAt - firstMessageAt) / 1000
    : 0;
  const summary = { ...writer.stats, seconds, busySeconds };
  logger.info("consume finished", {
    rows: summary.rows,
    dead_letters: summary.errorRows,
    unknown_schema: summary.unknownSchema,
    files: summary.files,
    bytes_in: summary.bytesIn,
    skipped_existing: summary.skippedExisting,
    flushes: JSON.stringify(flushesByReason),
    seconds: seconds.toFixed(1),
    busy_seconds: busySeconds.toFixed(2),
  });
  return summary;
}

export function batchLimits(batch: LoadedConfig["batch"]): BatchLimits {
  return {
    maxRecords: batch.max_records,
    maxBytes: batch.max_bytes,
    maxSpanMs: batch.max_span_secs * 1000,
    maxOpenFiles: batch.max_open_files,
    maxAgeMs: batch.max_age_secs * 1000,
    maxIdleMs: batch.max_idle_secs * 1000,
  };
}

/**
 * consume's metrics, fed from its existing steps: messages read, rows accepted (dead letters by
 * code), and each flush (files by reason, rows and bytes written, latency, lake freshness).
 */
function lakeWriterMetrics(telemetry: Telemetry, writer: LakeWriter) {
  /** Newest record event time buffered per partition: committed to the lake by its flush. */
  const newestEvent = new Map<number, number>();
  const written: Record<string, number> = {};
  let bytesWritten = 0;
  telemetry.registry.onCollect(() => telemetry.bufferedBytes.set({}, writer.bufferedBytes));
  return {
    read(messages: readonly IncomingMessage[]) {
      if (messages.length === 0) return;
      telemetry.recordsIn.inc(
        { mode: "consume", partition: messages[0].partition },
        messages.length,
      );
      telemetry.bytesIn.inc(
        { mode: "consume" },
        messages.reduce((sum, m) => sum + (m.value?.byteLength ?? 0), 0),
      );
    },
    accepted(partition: number, row: PreparedRow) {
      if (row.rejected) {
        telemetry.deadLetters.inc({ mode: "consume", code: row.rejected.code });
        telemetry.errors.inc({ mode: "consume", kind: "dead_letter" });
        return;
      }
      newestEvent.set(partition, Math.max(newestEvent.get(partition) ?? 0, row.eventMs));
    },
    flushed(partition: number, reason: FlushReason, files: number, elapsedMs: number) {
      const now = Date.now();
      telemetry.health.progress(SINK_COMPONENT, now);
      if (files === 0) return;
      telemetry.filesWritten.inc({ reason }, files);
      telemetry.flushSeconds.observe({ mode: "consume" }, elapsedMs / 1000);
      for (const [table, rows] of Object.entries(writer.stats.rowsWritten)) {
        const delta = rows - (written[table] ?? 0);
        if (delta > 0) telemetry.recordsOut.inc({ mode: "consume", target: table }, delta);
        written[table] = rows;
      }
      telemetry.bytesOut.inc({ mode: "consume" }, writer.stats.bytesWritten - bytesWritten);
      bytesWritten = writer.stats.bytesWritten;
      telemetry.lakeCommitted(newestEvent.get(partition), now);
      newestEvent.delete(partition);
    },
  };
}
