/**
 * The REST polling engine (src/source/rest.ts) in-process, on the real HTTP path: a source
 * made by `createSource` polls the local exchange server (tests/exchange_server.ts), and what
 * is asserted is what the source yields, what it logs, and when the server saw each request.
 * Real clock, real sockets; the Binance adapter (one request per poll) stands in for all five.
 */
import assert from "node:assert/strict";
import { sourceSchema } from "../src/config/schema.ts";
import { createLogger, type Logger } from "../src/log.ts";
import { createSource, type SourceItem } from "../src/source/mod.ts";
import { type ExchangeServer, startExchangeServer } from "./exchange_server.ts";

const PATH = "/api/v3/ticker/24hr";

/** A Binance source on the exchange server; `keys` override the test defaults. */
function binanceSource(server: ExchangeServer, logger: Logger, keys: Record<string, unknown> = {}) {
  const config = sourceSchema.parse({
    type: "binance",
    symbols: ["BTC-USDT"],
    base_url: server.url,
    poll_interval_secs: 0.05,
    requests_per_minute: 6000,
    request_timeout_ms: 2000,
    ...keys,
  });
  return createSource("b", config, { logger });
}

/** A logger that keeps its lines, to assert on what the engine reports. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger("debug", "text", {}, (line) => lines.push(line)), lines };
}

/**
 * Consume `items()` for at most `maxMs`, or until `enough` says so. `ended` is true when the
 * source stopped by itself (neither aborted nor left early).
 */
async function consume(
  source: ReturnType<typeof createSource>,
  maxMs: number,
  enough: (items: readonly SourceItem[]) => boolean = () => false,
): Promise<{ items: SourceItem[]; ended: boolean; elapsedMs: number }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), maxMs);
  const started = Date.now();
  const items: SourceItem[] = [];
  let ended = true;
  try {
    for await (const batch of source.items(controller.signal)) {
      items.push(...batch);
      if (enough(items)) {
        ended = false;
        break;
      }
    }
    if (controller.signal.aborted) ended = false;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { items, ended, elapsedMs: Date.now() - started };
}

const records = (items: readonly SourceItem[]) => items.filter((i) => i.kind === "record");
const rejects = (items: readonly SourceItem[]) =>
  items.flatMap((i) => i.kind === "rejected" ? [i.rejected] : []);
const hasRecord = (items: readonly SourceItem[]) => records(items).length > 0;
const gaps = (times: readonly number[]) => times.slice(1).map((t, i) => t - times[i]);

async function withServer(test: (server: ExchangeServer) => Promise<void>): Promise<void> {
  const server = startExchangeServer();
  try {
    await test(server);
  } finally {
    await server.close();
  }
}

Deno.test("rest engine: the token bucket allows a burst of requests_per_minute/10, then paces to one request per 60000/requests_per_minute ms", async () => {
  await withServer(async (server) => {
    const { logger } = capturingLogger();
    // 60/min: capacity 6, one token a second; polls are due every 50 ms, so the bucket rules.
    const source = binanceSource(server, logger, { requests_per_minute: 60 });
    const { items } = await consume(source, 3_100);
    const times = server.requests.map((r) => r.at);
    const burst = times.filter((t) => t - times[0] < 500).length;
    assert.ok(burst <= 6 && burst >= 4, `first burst: ${burst} requests (capacity 6)`);
    assert.ok(
      times.length >= 6 + 1 && times.length <= 6 + 4,
      `about 1/s after the burst: ${times.length} requests in 3.1 s (${gaps(times).join(", ")} ms)`,
    );
    for (const gap of gaps(times).slice(burst)) {
      assert.ok(gap >= 900, `after the burst, requests are ~1 s apart (${gaps(times).join(", ")})`);
    }
    assert.ok(hasRecord(items), "the polls that went out produced records");
  });
});

Deno.test("rest engine: a body over max_response_bytes becomes a reject naming the cap, and no record", async () => {
  await withServer(async (server) => {
    const { logger } = capturingLogger();
    // Two symbols: the normal body is ~700 bytes, over the 500-byte cap.
    const source = binanceSource(server, logger, {
      symbols: ["BTC-USDT", "ETH-USDT"],
      max_response_bytes: 500,
    });
    const { items } = await consume(source, 2_000, (got) => rejects(got).length >= 2);
    const got = rejects(items);
    assert.ok(got.length >= 2, `a reject per poll (got ${got.length})`);
    for (const reject of got) {
      assert.deepEqual(reject.problems, ["response larger than 500 bytes (max_response_bytes)"]);
      assert.ok(new TextEncoder().encode(reject.raw).byteLength <= 500, "raw is cut at the cap");
      assert.match(reject.origin, /^b:GET \/api\/v3\/ticker\/24hr\?symbols=/);
    }
    assert.equal(records(items).length, 0, "nothing from a cut body is published");
  });
});

Deno.test("rest engine: consecutive 503s back off exponentially with jitter (1 s, 2 s, 4 s × 0.5–1), then polling resumes", async () => {
  await withServer(async (server) => {
    const { logger, lines } = capturingLogger();
    const unavailable = { status: 503, body: "Service Unavailable" };
    server.fail(PATH, unavailable, unavailable, unavailable);
    const source = binanceSource(server, logger);
    const { items } = await consume(source, 9_000, hasRecord);
    assert.ok(hasRecord(items), "data resumes after the 503s");
    assert.equal(rejects(items).length, 0, "a 5xx is retried, not rejected");
    const times = server.requests.map((r) => r.at);
    assert.equal(times.length, 4, "three 503s, then the answer");
    const [gap1, gap2, gap3] = gaps(times);
    const all = `gaps ${gap1}, ${gap2}, ${gap3} ms`;
    // Backoff n is 2^(n-1) s times a jitter in [0.5, 1).
    assert.ok(gap1 >= 450 && gap1 < 1_200, `first backoff in [0.5 s, 1 s): ${all}`);
    assert.ok(gap2 >= 900 && gap2 < 2_200, `second backoff in [1 s, 2 s): ${all}`);
    assert.ok(gap3 >= 1_900 && gap3 < 4_200, `third backoff in [2 s, 4 s): ${all}`);
    assert.ok(gap3 > gap1, `the backoff grows: ${all}`);
    assert.equal(
      lines.filter((l) => /HTTP 503: Service Unavailable; backing off/.test(l)).length,
      3,
    );
  });
});

Deno.test("rest engine: HTTP 400, 401, 403 and 404 each stop the source after exactly one request", async (t) => {
  for (const status of [400, 401, 403, 404]) {
    await t.step(`HTTP ${status}`, async () => {
      await withServer(async (server) => {
        const { logger, lines } = capturingLogger();
        server.fail(PATH, { status, body: `{"code":-1,"msg":"refused with ${status}"}` });
        const source = binanceSource(server, logger);
        const { items, ended, elapsedMs } = await consume(source, 3_000);
        assert.ok(ended, `items() ended by itself (after ${elapsedMs} ms)`);
        assert.ok(elapsedMs < 1_500, `it stopped at once (${elapsedMs} ms)`);
        assert.equal(server.requests.length, 1, "no retry");
        // No data, no reject; the reason is reported once, as an error log line or as the
        // detail of a "stopped" status event (which produce logs).
        assert.deepEqual(items.filter((i) => i.kind !== "status"), []);
        const reports = [
          ...lines.filter((l) => l.startsWith("error")),
          ...items.flatMap((i) =>
            i.kind === "status" && i.status.event === "stopped" ? [i.status.detail] : []
          ),
        ];
        const reason = new RegExp(
          `HTTP ${status}: .*refused with ${status}.*not retried: fix the source's config.*this source stops`,
        );
        assert.equal(
          reports.filter((r) => reason.test(r)).length,
          1,
          `the stop and its reason, once:\n${[...lines, ...reports].join("\n")}`,
        );
      });
    });
  }
});

Deno.test("rest engine: a body stalling past request_timeout_ms is a timeout, retried with backoff (not a 'not JSON' reject); the next poll succeeds", async () => {
  await withServer(async (server) => {
    const { logger, lines } = capturingLogger();
    server.fail(PATH, { stallBody: true, delayMs: 2_000 });
    const source = binanceSource(server, logger, { request_timeout_ms: 300 });
    const { items } = await consume(source, 4_000, hasRecord);
    assert.deepEqual(rejects(items), [], "a timed-out body is not a reject");
    assert.ok(hasRecord(items), "the next poll succeeds");
    const warnings = lines.filter((l) => l.startsWith("warn"));
    assert.equal(warnings.length, 1, lines.join("\n"));
    assert.match(warnings[0], /within 300 ms.*; backing off/);
    assert.ok(!lines.some((l) => /not JSON/.test(l)), lines.join("\n"));
    const times = server.requests.map((r) => r.at);
    assert.equal(times.length, 2, "the stalled request, then the good one");
    assert.ok(gaps(times)[0] >= 300 + 450, `timeout, then backoff: ${gaps(times)[0]} ms`);
  });
});

Deno.test("rest engine: a connection broken mid-body is retried with backoff, is no reject, and data resumes", async () => {
  await withServer(async (server) => {
    const { logger, lines } = capturingLogger();
    server.fail(PATH, { drop: true });
    const source = binanceSource(server, logger);
    const { items } = await consume(source, 4_000, hasRecord);
    assert.deepEqual(rejects(items), [], "a broken body is not a reject");
    assert.ok(hasRecord(items), "data resumes");
    const warnings = lines.filter((l) => l.startsWith("warn"));
    assert.equal(warnings.length, 1, lines.join("\n"));
    assert.match(warnings[0], /response broke off: .*; backing off/);
    const times = server.requests.map((r) => r.at);
    assert.equal(times.length, 2, "the dropped request, then the good one");
    assert.ok(gaps(times)[0] >= 450, `backed off: ${gaps(times)[0]} ms`);
  });
});
