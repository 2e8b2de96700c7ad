/**
 * The HTTP side: `GET /metrics` (Prometheus text format) and `GET /health` (200 or 503 with
 * the stale components named), on a loopback address from `[metrics] listen`. Nothing else is
 * served, and nothing secret is in either answer (metric labels are sources, symbols, tables).
 */
import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { EXPOSITION_CONTENT_TYPE } from "./metrics.ts";
import type { Telemetry } from "./telemetry.ts";

export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** "127.0.0.1:9464", "[::1]:9464" or "localhost:9464". */
export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] ?? match[2], port };
}

export interface MetricsServer {
  /** The bound address (the real port when `listen` asked for port 0). */
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export function serveTelemetry(
  telemetry: Telemetry,
  address: ListenAddress,
  logger: Logger,
): MetricsServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      onListen: () => {},
      handler: (request) => answer(telemetry, request),
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(
        `Cannot listen on metrics.listen = "${address.hostname}:${address.port}": the address is already in use`,
      );
    }
    throw error;
  }
  const bound = { hostname: server.addr.hostname, port: server.addr.port };
  logger.info("metrics and health endpoint listening", {
    url: `http://${
      bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname
    }:${bound.port}/metrics`,
  });
  return {
    address: bound,
    close: () => server.shutdown(),
  };
}

function answer(telemetry: Telemetry, request: Request): Response {
  const path = new URL(request.url).pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path === "/metrics") {
    return new Response(telemetry.registry.render(), {
      headers: { "content-type": EXPOSITION_CONTENT_TYPE },
    });
  }
  if (path === "/health") {
    const report = telemetry.health.report();
    return new Response(JSON.stringify(report) + "\n", {
      status: report.status === "ok" ? 200 : 503,
      headers: { "content-type": "application/json" },
    });
  }
  return new Response("not found: try /metrics or /health\n", { status: 404 });
}
