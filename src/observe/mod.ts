/**
 * Stage door: observability. A metrics registry in the Prometheus text format, staleness-based
 * health, the metrics produce and consume expose (Telemetry), and the loopback HTTP endpoint
 * serving `/metrics` and `/health`. Logging itself is src/log.ts.
 */
export {
  Counter,
  escapeHelp,
  escapeLabelValue,
  EXPOSITION_CONTENT_TYPE,
  formatSampleValue,
  Gauge,
  Histogram,
  MetricsRegistry,
} from "./metrics.ts";
export { type ComponentHealth, Health, type HealthReport, type StaleLimits } from "./health.ts";
export { SINK_COMPONENT, sourceComponent, Telemetry } from "./telemetry.ts";
export { type ListenAddress, type MetricsServer, parseListen, serveTelemetry } from "./server.ts";
