/**
 * Stage door: the message bus. Kafka is the one real backend; the interface is what produce
 * and consume need, and nothing of kafkajs leaks through it.
 */
import type { LoadedConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import { createKafkaBus, createKafkaGroupAdmin } from "./kafka.ts";

export interface OutgoingMessage {
  readonly key: string;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface IncomingMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Kafka record timestamp, epoch ms (the produce time). */
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string>>;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface Publisher {
  /** Resolves once every message is acknowledged by all in-sync replicas. */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerHandlers {
  /** Messages of one partition, in offset order. Call `heartbeat` during long work. */
  onMessages(messages: readonly IncomingMessage[], heartbeat: () => Promise<void>): Promise<void>;
  /** The group gave this member a new assignment; everything uncommitted will be re-read. */
  onAssignment(assigned: readonly TopicPartition[]): Promise<void>;
}

export interface Consumer {
  start(handlers: ConsumerHandlers): Promise<void>;
  /**
   * Commit `nextOffset` (the first offset not yet durable) for a partition. Resolves false
   * when the group is rebalancing and the commit was not made (not an error).
   */
  commit(tp: TopicPartition, nextOffset: number): Promise<boolean>;
  /** Settles with the fatal error if the consumer stops by itself. */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
}

export interface PartitionOffsets {
  readonly partition: number;
  /** Next offset to be written (high watermark). */
  readonly high: number;
  readonly low: number;
}

export interface Bus {
  readonly describe: string;
  ensureTopics(topics: readonly string[]): Promise<void>;
  publisher(): Promise<Publisher>;
  consumer(topic: string, groupId: string): Promise<Consumer>;
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Committed next-offsets of a group, by partition (absent = nothing committed). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
  close(): Promise<void>;
}

export function createBus(config: LoadedConfig, logger: Logger): Bus {
  switch (config.bus.type) {
    case "kafka":
      return createKafkaBus(config, logger);
  }
}

export function rejectsTopic(config: Pick<LoadedConfig, "bus">): string {
  return config.bus.rejects_topic ?? `${config.bus.topic}.rejects`;
}

/** Feed health events (cryptopipe.status.v1): connects, reconnects, gaps, silences. */
export function statusTopic(config: Pick<LoadedConfig, "bus">): string {
  return config.bus.status_topic ?? `${config.bus.topic}.status`;
}

/** A consumer group as the broker sees it: its state and its live members. */
export interface GroupState {
  /** Empty, Dead (unknown group), Stable, PreparingRebalance, CompletingRebalance. */
  readonly state: string;
  /** `client-id@host` of each live member. */
  readonly members: readonly string[];
}

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** What reprocessing needs beyond the bus: consume --reset-offsets and consume --reread. */
export interface GroupAdmin {
  groupState(groupId: string): Promise<GroupState>;
  /** Per partition, the first offset with a Kafka timestamp at or after `epochMs` (else the log end). */
  offsetsAtTime(topic: string, epochMs: number): Promise<Map<number, number>>;
  /** Commit these next-offsets for the group; refused while the group has live members. */
  setCommittedOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyMap<number, number>,
  ): Promise<void>;
  /**
   * Deliver every message of the ranges, in offset order per partition, then resolve. Reads
   * with a throwaway group that never commits; resolves early when `signal` aborts.
   */
  readRange(
    topic: string,
    ranges: readonly OffsetRange[],
    onMessages: (messages: readonly IncomingMessage[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

export function createGroupAdmin(config: LoadedConfig, logger: Logger): GroupAdmin {
  switch (config.bus.type) {
    case "kafka":
      return createKafkaGroupAdmin(config, logger);
  }
}
