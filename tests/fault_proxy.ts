/**
 * A loopback HTTP fault proxy for tests (local-stack.md §4): put it in front of moto_server and
 * point the S3 client at `proxy.url`. Each request that matches `methods` draws a fault from a
 * seeded plan; everything else is forwarded untouched. Faults:
 *
 * - `status500`:   answer 500 InternalError without forwarding (the write did not happen).
 * - `slowdown503`: answer 503 SlowDown with `Retry-After: 1` without forwarding.
 * - `reset`:       forward (the write happens), then break the response mid-body, so the
 *                  client cannot know it succeeded: the dangerous case for write-once keys.
 * - `latency`:     wait `latencyMs` before forwarding.
 *
 * Not toxiproxy: HTTP only, buffered bodies (S3 objects here are small), one upstream.
 */
import { Buffer } from "node:buffer";
import { request as httpRequest } from "node:http";
import { seededRandom } from "../src/source/simulated.ts";

export const FAULT_KINDS = ["status500", "slowdown503", "reset", "latency"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultProxyOptions {
  /** Upstream origin, e.g. "http://127.0.0.1:5000". */
  readonly upstream: string;
  readonly seed: number;
  /** Probability per matching request of each fault; they are exclusive, so sum ≤ 1. */
  readonly rates?: Partial<Record<FaultKind, number>>;
  /** Methods that may be faulted (default PUT and POST: the writes). */
  readonly methods?: readonly string[];
  readonly latencyMs?: number;
  /** Faults forced on the first matching requests, in order, before the random plan. */
  readonly first?: readonly FaultKind[];
}

export interface FaultProxy {
  readonly url: string;
  /** Faults injected, by kind. */
  readonly injected: Record<FaultKind, number>;
  /** All requests seen, and those that matched `methods`. */
  readonly requests: { total: number; eligible: number };
  /** Change the plan at run time ({} turns faults off). */
  setRates(rates: Partial<Record<FaultKind, number>>): void;
  close(): Promise<void>;
}

// Per-connection headers must not be copied from one hop to the next (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

interface Upstream {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer>;
}

function s3Error(status: number, code: string, message: string, extra: HeadersInit = {}) {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message><RequestId>${id}</RequestId><HostId>fault-proxy</HostId></Error>`;
  return new Response(body, {
    status,
    headers: { "content-type": "application/xml", "x-amz-request-id": id, ...extra },
  });
}

export function startFaultProxy(options: FaultProxyOptions): FaultProxy {
  const upstream = new URL(options.upstream);
  const methods = new Set(options.methods ?? ["PUT", "POST"]);
  const latencyMs = options.latencyMs ?? 500;
  const forced = [...(options.first ?? [])];
  const random = seededRandom(options.seed);
  let rates: Partial<Record<FaultKind, number>> = { ...options.rates };
  const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const requests = { total: 0, eligible: 0 };

  const draw = (): FaultKind | undefined => {
    if (forced.length > 0) return forced.shift();
    // One draw per unscripted eligible request: the plan depends only on the seed and order.
    let r = random();
    for (const kind of FAULT_KINDS) {
      r -= rates[kind] ?? 0;
      if (r < 0) return kind;
    }
    return undefined;
  };

  const forward = async (request: Request): Promise<Upstream> => {
    const url = new URL(request.url);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
    // Headers as sent, Host included: the SigV4 signature covers it. node:http, because
    // fetch replaces Host with the upstream's. Buffered, so a chunked upload gets a length.
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    if (body && headers["content-length"] === undefined) {
      headers["content-length"] = String(body.byteLength);
    }
    return await new Promise((resolve, reject) => {
      const outgoing = httpRequest({
        host: upstream.hostname,
        port: upstream.port || 80,
        method: request.method,
        path: url.pathname + url.search,
        headers,
        agent: false, // no pooled sockets left open after close()
      }, (response) => {
        const chunks: Uint8Array[] = [];
        response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const relayed = new Headers();
          const raw = response.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) {
            if (!HOP_BY_HOP.has(raw[i].toLowerCase())) relayed.append(raw[i], raw[i + 1]);
          }
          resolve({
            status: response.statusCode ?? 502,
            statusText: response.statusMessage ?? "",
            headers: relayed,
            body: new Uint8Array(Buffer.concat(chunks)),
          });
        });
      });
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    requests.total++;
    const eligible = methods.has(request.method);
    if (eligible) requests.eligible++;
    const fault = eligible ? draw() : undefined;
    if (fault) injected[fault]++;
    if (fault === "status500" || fault === "slowdown503") {
      await request.body?.cancel();
      return fault === "status500"
        ? s3Error(500, "InternalError", "We encountered an internal error. Please try again.")
        : s3Error(503, "SlowDown", "Please reduce your request rate.", { "retry-after": "1" });
    }
    if (fault === "latency") await new Promise((r) => setTimeout(r, latencyMs));
    const response = await forward(request);
    if (fault !== "reset") {
      return new Response(request.method === "HEAD" ? null : response.body, response);
    }
    // Status and headers go out promising more bytes than follow: the server must drop the
    // connection mid-body, which the client sees as a reset after the upstream did the work.
    const sent = response.body.subarray(0, response.body.byteLength >> 1);
    const headers = new Headers(response.headers);
    headers.set("content-length", String(Math.max(response.body.byteLength, sent.byteLength + 1)));
    return new Response(
      new ReadableStream({
        start(controller) {
          if (sent.byteLength > 0) controller.enqueue(sent);
          controller.close();
        },
      }),
      { status: response.status, headers },
    );
  });

  const address = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${address.port}`,
    injected,
    requests,
    setRates(next) {
      rates = { ...next };
    },
    async close() {
      await server.shutdown();
    },
  };
}
