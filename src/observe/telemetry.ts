/**
 * The metrics produce and consume expose, by name, and the health they feed. Modes call the
 * small methods here from their existing code paths; the HTTP server only renders them.
 */
import { VERSION } from "../version.ts";
import { Health, type StaleLimits } from "./health.ts";
import { MetricsRegistry } from "./metrics.ts";

/** The health component name of produce's and consume's sink. */
export const SINK_COMPONENT = "sink";

export function sourceComponent(name: string): string {
  return `source/${name}`;
}

export class Telemetry {
  readonly registry: MetricsRegistry;
  readonly health: Health;

  readonly recordsIn;
  readonly recordsOut;
  readonly bytesIn;
  readonly bytesOut;
  readonly errors;
  readonly deadLetters;
  readonly statusEvents;
  readonly consumerLag;
  readonly flushSeconds;
  readonly filesWritten;
  readonly lastUpload;
  readonly lastSend;
  readonly bufferedBytes;
  readonly sourceFreshness;
  readonly sourceLastRecord;
  readonly lakeFreshness;
  readonly stale;

  /** source → symbol → last record: event time (or ingest time) and when it was taken. */
  readonly #lastRecord = new Map<string, Map<string, { eventMs: number; takenMs: number }>>();
  #lakeEventMs: number | undefined;

  constructor(
    readonly mode: string,
    limits: StaleLimits = { sourceStaleMs: 300_000, sinkStaleMs: 300_000 },
    maxSeries = 1000,
  ) {
    const r = this.registry = new MetricsRegistry(maxSeries);
    this.health = new Health(mode, limits);
    r.gauge("cryptopipe_build_info", {
      help: "Always 1; labels carry the build",
      labels: ["version", "mode"],
    })
      .set({ version: VERSION, mode }, 1);
    const startedSeconds = Date.now() / 1000;
    r.gauge("cryptopipe_start_time_seconds", { help: "When this process started, Unix seconds" })
      .set({}, startedSeconds);
    this.recordsIn = r.counter("cryptopipe_records_in_total", {
      help:
        "Records taken in: produce counts valid records from each source, consume counts Kafka messages read per partition",
      labels: ["mode", "source", "partition"],
    });
    this.recordsOut = r.counter("cryptopipe_records_out_total", {
      help:
        "Records delivered: produce counts records acknowledged by Kafka (target = topic), consume counts rows written to lake files (target = table)",
      labels: ["mode", "target"],
    });
    this.bytesIn = r.counter("cryptopipe_bytes_in_total", {
      help: "Bytes taken in: consume counts Kafka message values read",
      labels: ["mode"],
    });
    this.bytesOut = r.counter("cryptopipe_bytes_out_total", {
      help:
        "Bytes delivered: produce counts message values acknowledged by Kafka, consume counts encoded lake file bytes",
      labels: ["mode"],
    });
    this.errors = r.counter("cryptopipe_errors_total", {
      help:
        "Errors by kind: reject (invalid input), dead_letter (row in the errors table), feed_disconnected, feed_gap, feed_silence, feed_stopped, send_failed, flush_failed, lag_check_failed",
      labels: ["mode", "kind"],
    });
    this.deadLetters = r.counter("cryptopipe_dead_letters_total", {
      help:
        "Dead letters: produce counts input sent to the rejects topic, consume counts rows written to the errors table (by error code)",
      labels: ["mode", "code"],
    });
    this.statusEvents = r.counter("cryptopipe_source_status_events_total", {
      help: "Feed status events (connected, disconnected, gap, silence, stopped) by source",
      labels: ["source", "event"],
    });
    this.consumerLag = r.gauge("cryptopipe_consumer_lag_records", {
      help:
        "Records in the partition not yet committed by the group (high watermark minus committed offset), per assigned partition",
      labels: ["topic", "partition"],
    });
    this.flushSeconds = r.histogram("cryptopipe_flush_duration_seconds", {
      help:
        "How long a flush took: produce = one Kafka send round (acks=all), consume = writing a partition's files and committing",
      labels: ["mode"],
    });
    this.filesWritten = r.counter("cryptopipe_lake_files_total", {
      help: "Lake files written, by flush reason",
      labels: ["reason"],
    });
    this.lastUpload = r.gauge("cryptopipe_last_upload_timestamp_seconds", {
      help: "When the last lake file was written and its offsets committed, Unix seconds",
    });
    this.lastSend = r.gauge("cryptopipe_last_send_timestamp_seconds", {
      help: "When Kafka last acknowledged a batch of records, Unix seconds",
    });
    this.bufferedBytes = r.gauge("cryptopipe_buffered_bytes", {
      help: "Input bytes consume holds in memory, not yet in lake files",
    });
    this.sourceFreshness = r.gauge("cryptopipe_source_freshness_seconds", {
      help:
        "Seconds since the event time of the last record of each symbol (its ingest time when the provider sends none)",
      labels: ["source", "symbol"],
    });
    this.sourceLastRecord = r.gauge("cryptopipe_source_last_record_timestamp_seconds", {
      help: "When the last record of each symbol was taken from its source, Unix seconds",
      labels: ["source", "symbol"],
    });
    this.lakeFreshness = r.gauge("cryptopipe_lake_data_freshness_seconds", {
      help: "Seconds since the newest event time among rows committed to the lake",
    });
    this.stale = r.gauge("cryptopipe_component_stale", {
      help: "1 when the component made no progress within its limit ([metrics] *_stale_secs)",
      labels: ["component", "kind"],
    });
    // Zeros from the start, so alerts on rate() see a series before the first error.
    const kinds = mode === "produce"
      ? ["reject", "send_failed"]
      : ["dead_letter", "flush_failed", "lag_check_failed"];
    for (const kind of kinds) this.errors.inc({ mode, kind }, 0);
    r.onCollect((now) => {
      for (const [source, symbols] of this.#lastRecord) {
        for (const [symbol, last] of symbols) {
          this.sourceFreshness.set({ source, symbol }, Math.max(0, now - last.eventMs) / 1000);
          this.sourceLastRecord.set({ source, symbol }, last.takenMs / 1000);
        }
      }
      if (this.#lakeEventMs !== undefined) {
        this.lakeFreshness.set({}, Math.max(0, now - this.#lakeEventMs) / 1000);
      }
      for (const c of this.health.report(now).components) {
        this.stale.set({ component: c.component, kind: c.kind }, c.stale ? 1 : 0);
      }
    });
  }

  /** produce took a valid record from a source. */
  recordTaken(source: string, symbol: string, eventMs: number | null, now = Date.now()): void {
    this.recordsIn.inc({ mode: "produce", source });
    let symbols = this.#lastRecord.get(source);
    if (!symbols) this.#lastRecord.set(source, symbols = new Map());
    // Cardinality cap on symbols too: the config bounds them, but be safe.
    if (symbols.has(symbol) || symbols.size < this.registry.maxSeries) {
      symbols.set(symbol, { eventMs: eventMs ?? now, takenMs: now });
    }
    this.health.progress(sourceComponent(source), now);
  }

  /** consume wrote rows whose newest event time is `eventMs`. */
  lakeCommitted(eventMs: number | undefined, now = Date.now()): void {
    if (eventMs !== undefined) this.#lakeEventMs = Math.max(this.#lakeEventMs ?? 0, eventMs);
    this.lastUpload.set({}, now / 1000);
  }
}
