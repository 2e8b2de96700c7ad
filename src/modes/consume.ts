/**
 * consume: Kafka consumer group → lake files, exactly once as seen by lake readers. The file
 * logic lives in LakeWriter; this file drives it: message batches, the flush timer, commits
 * after durable writes, rebalances, --until-idle and graceful shutdown.
 */
import { createBus, type TopicPartition } from "../bus/mod.ts";
import { createEncoder } from "../encode/mod.ts";
import { createStore } from "../store/mod.ts";
import { type ModeContext, Mutex } from "./context.ts";
import { LakeWriter } from "./lake_writer.ts";

export interface ConsumeSummary {
  readonly rows: number;
  readonly errorRows: number;
  readonly files: number;
  readonly skippedExisting: number;
  readonly seconds: number;
}

const TICK_MS = 500;

export async function consume(ctx: ModeContext): Promise<ConsumeSummary> {
  const { config, logger, flags } = ctx;
  const topic = config.bus.topic;
  const groupId = config.bus.group_id;
  const store = createStore(config);
  const writer = new LakeWriter(
    store,
    createEncoder(config.encode.format, { rowGroupSize: config.encode.row_group_size }),
    { records: config.store.table, errors: config.store.errors_table },
    { maxRecords: config.batch.max_records, flushIntervalMs: config.batch.flush_interval_ms },
    logger,
  );
  const bus = createBus(config, logger);
  const lock = new Mutex();
  const started = Date.now();
  let assigned: readonly TopicPartition[] | undefined;
  let lastActivity = Date.now();
  const committed = new Map<number, number>();

  const flushAndCommit = async (tp: TopicPartition, reason: string) => {
    const result = await writer.flush(tp);
    if (result.commit !== undefined && committed.get(tp.partition) !== result.commit) {
      if (await consumer.commit(tp, result.commit)) committed.set(tp.partition, result.commit);
    }
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
  const flushAll = (reason: string) =>
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
        });
        if (flags.untilIdle && assigned && Date.now() - lastActivity >= config.batch.idle_ms) {
          await flushAll("idle");
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

  try {
    await consumer.start({
      onAssignment: (tps) =>
        lock.run(() => {
          assigned = tps;
          lastActivity = Date.now();
          writer.keepOnly(tps);
          const mine = new Set(tps.map((tp) => tp.partition));
          for (const partition of [...committed.keys()]) {
            if (!mine.has(partition)) committed.delete(partition);
          }
          logger.info("partitions assigned", {
            partitions: tps.map((tp) => tp.partition).join(",") || "none",
          });
          return Promise.resolve();
        }),
      onMessages: (messages, heartbeat) =>
        lock.run(async () => {
          const now = Date.now();
          lastActivity = now;
          // Check after every row, so no file grows past batch.max_records.
          for (const message of messages) {
            writer.add(message, now);
            const reason = writer.dueFor(message, now);
            if (reason) {
              await flushAndCommit(message, reason);
              await heartbeat();
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
    if (how === "signal") await flushAll("shutdown");
  } finally {
    stopTick?.();
    await consumer.close().catch(() => {});
    await bus.close().catch(() => {});
  }
  const seconds = (Date.now() - started) / 1000;
  const summary = { ...writer.stats, seconds };
  logger.info("consume finished", {
    rows: summary.rows,
    error_rows: summary.errorRows,
    files: summary.files,
    skipped_existing: summary.skippedExisting,
    seconds: seconds.toFixed(1),
  });
  return summary;
}
