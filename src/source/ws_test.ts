/**
 * The WebSocket engine with each provider's adapter against the local WebSocket server
 * (ws_testing.ts): real sockets on 127.0.0.1, faults scripted on the server side while the
 * source runs. Deno's sanitizers check that no socket or timer outlives a test.
 */
import assert from "node:assert/strict";
import { sourceSchema } from "../config/schema.ts";
import { silentLogger } from "../log.ts";
import { type TickerRecord, validateTicker } from "../record/mod.ts";
import { binanceWsAdapter } from "./binance_ws.ts";
import { coinbaseWsAdapter } from "./coinbase_ws.ts";
import { krakenWsAdapter } from "./kraken_ws.ts";
import { createSource, realClock, type SourceItem, type StatusEvent } from "./mod.ts";
import { type WsAdapter, type WsSettings, WsSource } from "./ws.ts";
import { type Provider, startWsServer, type WsServer } from "./ws_testing.ts";

const PROVIDERS: readonly Provider[] = ["binance", "coinbase", "kraken"];
const SYMBOLS: Record<Provider, string[]> = {
  binance: ["BTC-USDT", "ETH-USDT"],
  coinbase: ["BTC-USD", "ETH-USD"],
  kraken: ["BTC-USD", "DOGE-USD"],
};
const ADAPTERS: Record<Provider, () => WsAdapter> = {
  binance: binanceWsAdapter,
  coinbase: coinbaseWsAdapter,
  kraken: krakenWsAdapter,
};

function wsSource(
  server: WsServer | string,
  provider: Provider,
  settings: Partial<WsSettings> = {},
  adapter: WsAdapter = ADAPTERS[provider](),
): WsSource {
  return new WsSource(`${provider}_stream`, adapter, {
    symbols: SYMBOLS[provider],
    url: typeof server === "string" ? server : server.url(provider),
    silenceTimeoutMs: 3_000,
    reconnectMaxMs: 2_000,
    maxClockSkewMs: 300_000,
    batchMs: 20,
    ...settings,
  }, { clock: realClock, logger: silentLogger });
}

/**
 * Runs a source, calling `step` with everything so far after each batch, until `step` says
 * stop (or `timeoutMs` passes). Returns every item, the final "stopped" status included.
 */
async function run(
  source: WsSource,
  step: (items: SourceItem[]) => boolean,
  timeoutMs = 10_000,
): Promise<SourceItem[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  const items: SourceItem[] = [];
  try {
    for await (const batch of source.items(stop.signal)) {
      items.push(...batch);
      if (!stop.signal.aborted && step(items)) stop.abort();
    }
  } finally {
    clearTimeout(timer);
  }
  return items;
}

const records = (items: SourceItem[]): TickerRecord[] =>
  items.flatMap((i) => i.kind === "record" ? [i.record] : []);
const statuses = (items: SourceItem[]): StatusEvent[] =>
  items.flatMap((i) => i.kind === "status" ? [i.status] : []);
const rejects = (items: SourceItem[]) =>
  items.flatMap((i) => i.kind === "rejected" ? [i.rejected] : []);
const events = (items: SourceItem[]) => statuses(items).map((s) => s.event);

/** The items after the n-th (1-based) status of this kind; none if there is no such status. */
function after(items: SourceItem[], event: StatusEvent["event"], n = 1): SourceItem[] {
  let seen = 0;
  const index = items.findIndex((i) =>
    i.kind === "status" && i.status.event === event && ++seen === n
  );
  return index < 0 ? [] : items.slice(index + 1);
}

/** Runs `body` with a fresh server, closed afterwards whatever happens. */
async function withServer(body: (server: WsServer) => Promise<void>): Promise<void> {
  const server = startWsServer({ tickMs: 50 });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

Deno.test("ws: each provider streams valid records between a connected and a stopped status", async () => {
  await withServer(async (server) => {
    await Promise.all(PROVIDERS.map(async (provider) => {
      const items = await run(wsSource(server, provider), (items) => records(items).length >= 6);
      assert.equal(statuses(items)[0].event, "connected", provider);
      assert.match(statuses(items)[0].detail, /connected to ws:\/\/127\.0\.0\.1:\d+\/.*2 symbol/);
      assert.equal(statuses(items)[0].attempt, 0);
      const last = items.at(-1)!;
      assert.ok(last.kind === "status" && last.status.event === "stopped", provider);
      assert.deepEqual(events(items), ["connected", "stopped"], provider);
      assert.deepEqual(rejects(items), [], provider);
      for (const record of records(items)) {
        assert.ok(validateTicker(record).ok, JSON.stringify(record));
        assert.equal(record.channel, "ws");
        assert.equal(record.source, provider);
        assert.ok(SYMBOLS[provider].includes(record.symbol));
      }
      assert.deepEqual(
        new Set(records(items).map((r) => r.symbol)),
        new Set(SYMBOLS[provider]),
        `${provider}: every symbol streams`,
      );
    }));
    assert.deepEqual(server.paths.filter((p) => p.startsWith("/binance")), [
      "/binance/stream?streams=btcusdt@ticker/ethusdt@ticker",
    ]);
    assert.deepEqual(server.received("coinbase").map((m) => JSON.parse(m)), [{
      type: "subscribe",
      product_ids: ["BTC-USD", "ETH-USD"],
      channels: ["ticker", "heartbeat"],
    }]);
    assert.equal(JSON.parse(server.received("kraken")[0]).params.snapshot, true);
  });
});

Deno.test("ws: a dropped connection gives disconnected (with the reason), a jittered backoff, connected again; data resumes and subscriptions are renewed", async () => {
  await withServer(async (server) => {
    await Promise.all(PROVIDERS.map(async (provider) => {
      let dropped = false;
      const items = await run(wsSource(server, provider), (items) => {
        if (!dropped && records(items).length >= 2) {
          dropped = true;
          server.drop(provider);
        }
        return records(after(items, "connected", 2)).length >= 2;
      });
      assert.deepEqual(events(items), ["connected", "disconnected", "connected", "stopped"]);
      const [, disconnected, reconnected] = statuses(items);
      assert.match(
        disconnected.detail,
        /closed by the server \(code 1001: going away\); reconnecting in \d+ ms/,
      );
      assert.equal(disconnected.attempt, 1);
      assert.equal(reconnected.attempt, 1, "counted until the next good message");
      const waited = reconnected.at - disconnected.at;
      assert.ok(
        waited >= 500 && waited < 1_500,
        `${provider}: backoff of ~1 s, jittered (${waited} ms)`,
      );
      assert.equal(server.connections(provider), 2);
    }));
    const subscribes = (provider: Provider) =>
      server.received(provider).filter((m) => /subscribe/.test(m)).length;
    assert.equal(subscribes("coinbase"), 2, "coinbase resubscribed");
    assert.equal(subscribes("kraken"), 2, "kraken resubscribed");
  });
});

Deno.test("ws: a silent connection gives a silence status, is closed and reconnected; data resumes", async () => {
  await withServer(async (server) => {
    await Promise.all(PROVIDERS.map(async (provider) => {
      let silenced = false;
      const items = await run(wsSource(server, provider, { silenceTimeoutMs: 300 }), (items) => {
        if (!silenced && records(items).length >= 2) {
          silenced = true;
          server.silence(provider);
        }
        return records(after(items, "connected", 2)).length >= 2;
      });
      assert.deepEqual(events(items), [
        "connected",
        "silence",
        "disconnected",
        "connected",
        "stopped",
      ]);
      const [, silence, disconnected] = statuses(items);
      assert.equal(silence.detail, "no message for 0.3 s");
      assert.match(
        disconnected.detail,
        /^silent for 0\.3 s \(silence_timeout_secs\); reconnecting/,
      );
      assert.equal(server.connections(provider), 2);
    }));
  });
});

Deno.test("ws: a Coinbase sequence gap gives a gap status per product with the expected and the got sequence", async () => {
  await withServer(async (server) => {
    let skipped = false;
    const items = await run(wsSource(server, "coinbase"), (items) => {
      if (!skipped && records(items).length >= 4) {
        skipped = true;
        server.skipSequence(4);
      }
      return events(items).filter((e) => e === "gap").length >= 2 &&
        records(after(items, "gap", 2)).length >= 2;
    });
    const gaps = statuses(items).filter((s) => s.event === "gap");
    assert.equal(gaps.length, 2, JSON.stringify(gaps));
    assert.deepEqual(gaps.map((g) => g.symbol).sort(), ["BTC-USD", "ETH-USD"]);
    for (const gap of gaps) {
      assert.equal(gap.got_seq! - gap.expected_seq!, 4);
      assert.equal(gap.detail, `ticker:${gap.symbol}: 4 message(s) missed`);
      const seqs = records(items).filter((r) => r.symbol === gap.symbol).map((r) => r.seq);
      assert.ok(seqs.includes(gap.expected_seq! - 1), "the last one seen before the gap");
      assert.ok(seqs.includes(gap.got_seq), "the one that arrived is still published");
    }
    assert.ok(!events(items).includes("disconnected"), "a gap is reported, not reconnected");
  });
});

Deno.test("ws: Binance serverShutdown and max_connection_secs reconnect at once, without backoff; a shutdown right after connecting backs off", async () => {
  const servers = [0, 1, 2].map(() => startWsServer({ tickMs: 50 }));
  try {
    const [shutdown, aged, early] = servers;
    let announced = false;
    let earlyAnnounced = false;
    const [afterShutdown, afterMaxAge, afterEarly] = await Promise.all([
      run(wsSource(shutdown, "binance"), (items) => {
        const connected = statuses(items)[0];
        if (!announced && connected && Date.now() - connected.at > 1_100) {
          announced = true;
          shutdown.shutdown();
        }
        return records(after(items, "connected", 2)).length >= 1;
      }),
      run(
        wsSource(aged, "binance", { maxConnectionMs: 1_200 }),
        (items) => records(after(items, "connected", 2)).length >= 1,
      ),
      run(wsSource(early, "binance"), (items) => {
        if (!earlyAnnounced && records(items).length >= 1) {
          earlyAnnounced = true;
          early.shutdown();
        }
        return records(after(items, "connected", 2)).length >= 1;
      }),
    ]);
    const immediate = (items: SourceItem[], reason: RegExp) => {
      assert.deepEqual(events(items), ["connected", "disconnected", "connected", "stopped"]);
      const [, disconnected, reconnected] = statuses(items);
      assert.match(disconnected.detail, reason);
      assert.match(disconnected.detail, /reconnecting in 0 ms$/);
      assert.equal(disconnected.attempt, 0, "a planned reconnect is not a failure");
      assert.ok(reconnected.at - disconnected.at < 300, `${reconnected.at - disconnected.at} ms`);
    };
    immediate(afterShutdown, /the server announced a shutdown \(serverShutdown\)/);
    immediate(afterMaxAge, /connection is 1\.2 s old \(max_connection_secs\)/);
    const [, disconnected] = statuses(afterEarly);
    assert.match(disconnected.detail, /serverShutdown.*reconnecting in ([5-9]\d\d|1000) ms$/);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

Deno.test("ws: bad messages become rejects with the raw text; the stream goes on, never a crash", async () => {
  const expected: Record<Provider, number> = { binance: 6, coinbase: 6, kraken: 5 };
  await withServer(async (server) => {
    await Promise.all(PROVIDERS.map(async (provider) => {
      let sent = false;
      const items = await run(wsSource(server, provider), (items) => {
        if (!sent && records(items).length >= 1) {
          sent = true;
          server.sendGarbage(provider);
        }
        return rejects(items).length >= expected[provider] &&
          records(items.slice(items.findIndex((i) => i.kind === "rejected"))).length >= 2;
      });
      const refused = rejects(items);
      assert.equal(refused.length, expected[provider], JSON.stringify(refused));
      for (const reject of refused) {
        assert.equal(reject.origin, `${provider}_stream:${provider} ws`);
        assert.ok(reject.problems.length > 0 && reject.raw.length > 0);
      }
      assert.ok(refused.some((r) => r.problems[0].startsWith("not JSON")), provider);
      assert.ok(
        !events(items).includes("disconnected"),
        `${provider}: garbage is no reason to reconnect`,
      );
    }));
  });
});

Deno.test("ws: an event time too far from the local clock is rejected; an unchanged repeat is not republished", async () => {
  await withServer(async (server) => {
    const frame = (E: number, c: string) =>
      JSON.stringify({ stream: "ethusdt@ticker", data: { e: "24hrTicker", E, s: "ETHUSDT", c } });
    let sent = false;
    const items = await run(wsSource(server, "binance"), (items) => {
      if (!sent && records(items).length >= 1) {
        sent = true;
        const now = Date.now() + 60_000; // after every regular tick of this test
        server.send(
          "binance",
          frame(now - 3_660_000, "3000.5"),
          frame(now, "3001.5"),
          frame(now, "3001.5"),
        );
      }
      return rejects(items).length >= 1 && records(items).some((r) => r.price === 3001.5);
    });
    assert.match(
      rejects(items)[0].problems.join(),
      /event_time: .* is more than 300s from the local clock/,
    );
    assert.equal(
      records(items).filter((r) => r.price === 3001.5).length,
      1,
      "the repeat is dropped",
    );
  });
});

Deno.test("ws: an unreachable server gives disconnected statuses with growing attempts, backoff capped at reconnect_max", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const items = await run(
    wsSource(`ws://127.0.0.1:${port}`, "kraken", { reconnectMaxMs: 800 }),
    (items) => events(items).filter((e) => e === "disconnected").length >= 3,
  );
  const lost = statuses(items).filter((s) => s.event === "disconnected");
  assert.deepEqual(lost.map((s) => s.attempt), [1, 2, 3]);
  for (const status of lost) {
    const delay = Number(/reconnecting in (\d+) ms/.exec(status.detail)?.[1]);
    assert.ok(delay >= 400 && delay <= 800, `capped: ${status.detail}`);
  }
  assert.ok(!events(items).includes("connected"));
  assert.equal(statuses(items).at(-1)?.event, "stopped");
});

Deno.test("ws: Kraken's client pings go out on the interval and the pongs are quiet", async () => {
  await withServer(async (server) => {
    const adapter = krakenWsAdapter();
    const fast = { ...adapter, keepAlive: { ...adapter.keepAlive!, intervalMs: 60 } };
    const pings = () => server.received("kraken").filter((m) => m.includes('"ping"'));
    const items = await run(wsSource(server, "kraken", {}, fast), () => pings().length >= 3);
    assert.deepEqual(pings().slice(0, 3).map((m) => JSON.parse(m)), [
      { method: "ping", req_id: 2 },
      { method: "ping", req_id: 3 },
      { method: "ping", req_id: 4 },
    ]);
    assert.deepEqual(rejects(items), []);
  });
});

Deno.test("ws: stopping closes the socket and ends promptly with a stopped status: connected, backing off, broken off by the consumer, or stopped before starting", async () => {
  await withServer(async (server) => {
    const timed = async (body: () => Promise<void>) => {
      const started = Date.now();
      await body();
      return Date.now() - started;
    };
    // Connected: the stop comes while data flows.
    const stop = new AbortController();
    const items: SourceItem[] = [];
    let stoppedAt = 0;
    for await (const batch of wsSource(server, "coinbase").items(stop.signal)) {
      items.push(...batch);
      if (records(items).length >= 1 && !stop.signal.aborted) {
        stop.abort();
        stoppedAt = Date.now();
      }
    }
    assert.ok(Date.now() - stoppedAt < 500, `ended ${Date.now() - stoppedAt} ms after the stop`);
    assert.equal(statuses(items).at(-1)?.event, "stopped");
    assert.equal(statuses(items).at(-1)?.detail, "stopped on request");

    // Backing off after a drop: the sleep is cut short.
    let dropped = false;
    const backingOff = new AbortController();
    const during: SourceItem[] = [];
    for await (const batch of wsSource(server, "kraken").items(backingOff.signal)) {
      during.push(...batch);
      if (!dropped && records(during).length >= 1) {
        dropped = true;
        server.drop("kraken");
      }
      if (events(during).includes("disconnected") && !backingOff.signal.aborted) {
        stoppedAt = Date.now();
        backingOff.abort();
      }
    }
    assert.ok(Date.now() - stoppedAt < 300, "the backoff sleep does not hold up the stop");
    assert.deepEqual(events(during), ["connected", "disconnected", "stopped"]);

    // The consumer breaks off: the socket is closed all the same (the sanitizer checks it).
    const tookMs = await timed(async () => {
      for await (const batch of wsSource(server, "binance").items(new AbortController().signal)) {
        if (records(batch).length > 0) break;
      }
    });
    assert.ok(tookMs < 2_000, `${tookMs} ms`);

    // Already stopped: no connection at all.
    const before = server.connections("binance");
    const none: SourceItem[] = [];
    for await (const batch of wsSource(server, "binance").items(AbortSignal.abort())) {
      none.push(...batch);
    }
    assert.deepEqual(events(none), ["stopped"]);
    assert.equal(server.connections("binance"), before);
  });
});

Deno.test("ws: createSource builds the three WebSocket sources from config, with each provider's defaults", () => {
  const config = (type: string, extra = {}) =>
    sourceSchema.parse({ type, symbols: ["BTC-USD"], ...extra });
  const binance = createSource("b", config("binance_ws"));
  assert.ok(binance instanceof WsSource);
  assert.equal(binance.settings.url, "wss://stream.binance.com:9443");
  assert.equal(binance.settings.maxConnectionMs, 23.5 * 3_600_000);
  assert.equal(binance.settings.silenceTimeoutMs, 30_000);
  assert.equal(binance.settings.reconnectMaxMs, 60_000);
  assert.equal(binance.settings.maxClockSkewMs, 300_000);
  const coinbase = createSource("c", config("coinbase_ws", { max_connection_secs: 3600 }));
  assert.ok(coinbase instanceof WsSource);
  assert.equal(coinbase.settings.url, "wss://ws-feed.exchange.coinbase.com");
  assert.equal(coinbase.settings.maxConnectionMs, 3_600_000);
  const kraken = createSource("k", config("kraken_ws", { url: "ws://127.0.0.1:9/kraken/v2" }));
  assert.ok(kraken instanceof WsSource);
  assert.equal(kraken.settings.url, "ws://127.0.0.1:9/kraken/v2");
  assert.equal(kraken.settings.maxConnectionMs, undefined);
  for (const url of ["ws://example.com/v2", "https://ws.kraken.com/v2", "not a url"]) {
    assert.ok(
      !sourceSchema.safeParse({ type: "kraken_ws", symbols: ["BTC-USD"], url }).success,
      url,
    );
  }
  assert.ok(
    !sourceSchema.safeParse({ type: "binance_ws", symbols: ["BTC-USDT"], base_url: "x" }).success,
  );
});
