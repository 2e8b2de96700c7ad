/**
 * Test support: a local WebSocket server that speaks the three providers' documented stream
 * shapes (exchange-apis.md §8; realistic values, not captured data), for the WebSocket source
 * tests without internet. Paths: `/binance/stream?streams=…` (combined stream, events wrapped
 * as `{"stream","data"}`), `/coinbase` (waits for `subscribe`, then ticker + heartbeat) and
 * `/kraken/v2` (status, subscribe ack, snapshot, updates, heartbeats, pongs). Every tick is
 * fresh: prices move and times are "now", so skew and dedup checks see live-looking data.
 *
 * A test scripts faults on the open connections of a provider: drop them, make them go
 * silent, skip Coinbase sequence numbers, announce a Binance `serverShutdown`, or send
 * garbage. The server records what clients sent and how often they connected. Not used by
 * production code.
 */

import assert from "node:assert/strict";
import { TICKER_COLUMNS } from "../record/mod.ts";
import { mutate } from "./adapter_testing.ts";
import { MAX_RAW_CHARS } from "./fields.ts";
import { seededRandom } from "./simulated.ts";
import type { WsContext, WsParsed } from "./ws.ts";

export type Provider = "binance" | "coinbase" | "kraken";

export interface WsServerOptions {
  /** Time between data ticks per connection (the real feeds: about 1 s). */
  readonly tickMs?: number;
}

export interface WsServer {
  /** The base URL a source of this provider is configured with. */
  url(provider: Provider): string;
  /** Connections accepted so far. */
  connections(provider: Provider): number;
  /** Request paths with their query, one per connection (`/binance/stream?streams=…`). */
  readonly paths: string[];
  /** Every client message as received (subscribes, pings). */
  received(provider: Provider): string[];
  /** Close every open connection of the provider (close code 1001, "going away"). */
  drop(provider: Provider): void;
  /** The open connections stop sending anything, yet stay open. */
  silence(provider: Provider): void;
  /** Coinbase: the next ticker of each product skips `count` sequence numbers. */
  skipSequence(count: number): void;
  /** Binance: announce maintenance (`{"e":"serverShutdown"}`) on the open connections. */
  shutdown(): void;
  /** Send the provider's garbage messages (see {@link badMessages}) on open connections. */
  sendGarbage(provider: Provider): void;
  /** Send raw frames on the open connections of the provider. */
  send(provider: Provider, ...frames: string[]): void;
  close(): Promise<void>;
}

const BASE_PRICES: Record<string, number> = { BTC: 91_000, ETH: 3_050, SOL: 205, DOGE: 0.38 };

interface Connection {
  readonly provider: Provider;
  readonly socket: WebSocket;
  /** Canonical BASE-QUOTE symbols this connection streams. */
  symbols: string[];
  silent: boolean;
  /** Coinbase: per product, the last ticker sequence and heartbeat sequence. */
  readonly tickerSeq: Map<string, number>;
  readonly heartbeatSeq: Map<string, number>;
  skip: number;
  tick: number;
  timer?: ReturnType<typeof setInterval>;
  subscribeTimer?: ReturnType<typeof setTimeout>;
}

/** Messages each provider's parser must refuse (or ignore) without failing. */
export function badMessages(provider: Provider, now = Date.now()): string[] {
  switch (provider) {
    case "binance":
      return [
        "this is not JSON",
        '{"stream":"btcusdt@ticker","data":"garbage"}',
        JSON.stringify({
          stream: "btcusdt@ticker",
          data: { e: "24hrTicker", E: now, s: "BTCUSDT", c: "NaN" },
        }),
        JSON.stringify({ stream: "btcusdt@ticker", data: { e: "24hrTicker", E: now, c: "1" } }),
        "[1,2,3]",
        '{"hello":"world"}',
      ];
    case "coinbase":
      return [
        "{truncated",
        JSON.stringify({ type: "ticker", product_id: "BTC-USD", price: "NaN" }),
        JSON.stringify({ type: "ticker", product_id: "BTC-USD", price: { nested: true } }),
        JSON.stringify({ type: "heartbeat", product_id: "BTC-USD", sequence: "abc" }),
        '{"no":"type"}',
        "42",
      ];
    case "kraken":
      return [
        "<html>502 Bad Gateway</html>",
        '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":NaN}]}',
        JSON.stringify({
          channel: "ticker",
          type: "update",
          data: [{ symbol: "BTC/USD", last: "x" }],
        }),
        JSON.stringify({ channel: "ticker", type: "update", data: "nope" }),
        '{"foo":1}',
      ];
  }
}

export function startWsServer(options: WsServerOptions = {}): WsServer {
  const tickMs = options.tickMs ?? 100;
  const open = new Set<Connection>();
  const counts: Record<Provider, number> = { binance: 0, coinbase: 0, kraken: 0 };
  const received: Record<Provider, string[]> = { binance: [], coinbase: [], kraken: [] };
  const paths: string[] = [];
  let tradeId = 1_000_000;

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      const provider = providerOf(url.pathname);
      if (!provider || request.headers.get("upgrade") !== "websocket") {
        return new Response("not found", { status: 404 });
      }
      paths.push(url.pathname + url.search);
      const { socket, response } = Deno.upgradeWebSocket(request);
      const connection: Connection = {
        provider,
        socket,
        symbols: provider === "binance" ? binanceSymbols(url) : [],
        silent: false,
        tickerSeq: new Map(),
        heartbeatSeq: new Map(),
        skip: 0,
        tick: 0,
      };
      counts[provider]++;
      socket.onopen = () => {
        open.add(connection);
        if (provider === "binance") startTicking(connection);
        if (provider === "kraken") {
          send(connection, {
            channel: "status",
            type: "update",
            data: [{ api_version: "v2", connection_id: 1, system: "online", version: "2.0.10" }],
          });
        }
        if (provider === "coinbase") {
          // As Coinbase does: no subscribe within 5 s, no connection.
          connection.subscribeTimer = setTimeout(() => close(connection, 1008), 5_000);
        }
      };
      socket.onmessage = (event) => {
        received[provider].push(String(event.data));
        onClientMessage(connection, String(event.data));
      };
      socket.onclose = () => forget(connection);
      socket.onerror = () => forget(connection);
      return response;
    },
  );
  const port = server.addr.port;

  function forget(connection: Connection) {
    clearInterval(connection.timer);
    clearTimeout(connection.subscribeTimer);
    open.delete(connection);
  }

  function close(connection: Connection, code = 1001) {
    forget(connection);
    try {
      connection.socket.close(code, "going away");
    } catch { /* already closed */ }
  }

  function send(connection: Connection, message: unknown) {
    if (connection.silent || connection.socket.readyState !== WebSocket.OPEN) return;
    connection.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  function startTicking(connection: Connection) {
    clearInterval(connection.timer);
    connection.timer = setInterval(() => tickOnce(connection, "update"), tickMs);
  }

  function onClientMessage(connection: Connection, text: string) {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (connection.provider === "coinbase" && message.type === "subscribe") {
      clearTimeout(connection.subscribeTimer);
      connection.symbols = (message.product_ids as string[]) ?? [];
      send(connection, {
        type: "subscriptions",
        channels: [
          { name: "ticker", product_ids: connection.symbols },
          { name: "heartbeat", product_ids: connection.symbols },
        ],
      });
      startTicking(connection);
    }
    if (connection.provider === "kraken" && message.method === "ping") {
      const now = new Date().toISOString();
      send(connection, { method: "pong", req_id: message.req_id, time_in: now, time_out: now });
    }
    if (connection.provider === "kraken" && message.method === "subscribe") {
      const params = message.params as { symbol?: string[] };
      const now = new Date().toISOString();
      connection.symbols = [];
      for (const symbol of params?.symbol ?? []) {
        const [base] = symbol.split("/");
        if (!(base in BASE_PRICES)) {
          send(connection, {
            error: `Currency pair not supported ${symbol}`,
            method: "subscribe",
            req_id: message.req_id,
            success: false,
            time_in: now,
            time_out: now,
          });
          continue;
        }
        connection.symbols.push(symbol.replace("/", "-"));
        send(connection, {
          method: "subscribe",
          req_id: message.req_id,
          result: { channel: "ticker", event_trigger: "trades", snapshot: true, symbol },
          success: true,
          time_in: now,
          time_out: now,
        });
      }
      tickOnce(connection, "snapshot");
      startTicking(connection);
    }
  }

  function tickOnce(connection: Connection, type: "snapshot" | "update") {
    const t = connection.tick++;
    const now = Date.now();
    for (const symbol of connection.symbols) {
      const [base, quote] = symbol.split("-");
      const price = round((BASE_PRICES[base] ?? 1) * (1 + Math.sin(t / 3) / 200));
      const open24 = round(price * 0.99);
      switch (connection.provider) {
        case "binance": {
          const stream = `${(base + quote).toLowerCase()}@ticker`;
          send(connection, { stream, data: binanceTicker(base + quote, price, open24, now) });
          break;
        }
        case "coinbase": {
          const seq = (connection.tickerSeq.get(symbol) ?? 100) + 1 + connection.skip;
          connection.tickerSeq.set(symbol, seq);
          send(connection, coinbaseTicker(symbol, price, open24, seq, tradeId++, now));
          const beat = (connection.heartbeatSeq.get(symbol) ?? 0) + 1;
          connection.heartbeatSeq.set(symbol, beat);
          send(connection, {
            type: "heartbeat",
            sequence: beat,
            last_trade_id: tradeId - 1,
            product_id: symbol,
            time: isoMicros(now),
          });
          break;
        }
        case "kraken":
          send(connection, {
            channel: "ticker",
            type,
            data: [krakenTicker(`${base}/${quote}`, price, open24)],
          });
          break;
      }
    }
    connection.skip = 0;
    if (connection.provider === "kraken") send(connection, { channel: "heartbeat" });
  }

  const each = (provider: Provider, action: (c: Connection) => void) => {
    for (const connection of [...open]) if (connection.provider === provider) action(connection);
  };

  return {
    url: (provider) => `ws://127.0.0.1:${port}/${provider === "kraken" ? "kraken/v2" : provider}`,
    connections: (provider) => counts[provider],
    paths,
    received: (provider) => received[provider],
    drop: (provider) => each(provider, (c) => close(c)),
    silence: (provider) => each(provider, (c) => c.silent = true),
    skipSequence: (count) => each("coinbase", (c) => c.skip = count),
    shutdown: () => each("binance", (c) => send(c, { e: "serverShutdown", E: Date.now() })),
    sendGarbage: (provider) =>
      each(provider, (c) => badMessages(provider).forEach((m) => send(c, m))),
    send: (provider, ...frames) => each(provider, (c) => frames.forEach((f) => send(c, f))),
    async close() {
      for (const connection of [...open]) close(connection);
      await server.shutdown();
    },
  };
}

function providerOf(path: string): Provider | undefined {
  if (path === "/binance/stream") return "binance";
  if (path === "/coinbase" || path === "/coinbase/") return "coinbase";
  if (path === "/kraken/v2") return "kraken";
  return undefined;
}

/** `streams=btcusdt@ticker/ethusdt@ticker` → BTC-USDT, ETH-USDT. */
function binanceSymbols(url: URL): string[] {
  return (url.searchParams.get("streams") ?? "").split("/").filter((s) => s).map((stream) => {
    const native = stream.replace(/@ticker$/, "").toUpperCase();
    const quote = /(USDT|USDC|USD|BTC)$/.exec(native)?.[1] ?? "USDT";
    return `${native.slice(0, -quote.length)}-${quote}`;
  });
}

/** Six significant digits, so a 0.38 DOGE moves too. */
function round(value: number): number {
  return Number(value.toPrecision(6));
}

/** Coinbase sends microseconds: `2026-11-24T12:00:00.123456Z`. */
function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "456Z");
}

function binanceTicker(native: string, price: number, open: number, now: number) {
  return {
    e: "24hrTicker",
    E: now,
    s: native,
    p: (price - open).toFixed(8),
    P: (((price - open) / open) * 100).toFixed(3),
    w: price.toFixed(8),
    x: open.toFixed(8),
    c: price.toFixed(8),
    Q: "0.01200000",
    b: (price - 0.01).toFixed(8),
    B: "1.50000000",
    a: (price + 0.01).toFixed(8),
    A: "0.80000000",
    o: open.toFixed(8),
    h: (price * 1.01).toFixed(8),
    l: (open * 0.99).toFixed(8),
    v: "18151.12345000",
    q: (18151.12345 * price).toFixed(8),
    O: now - 86_400_000,
    C: now,
    F: 4_100_000_000,
    L: 4_100_000_000 + Math.floor(now / 1000) % 1_000_000,
    n: 1_234_567,
  };
}

function coinbaseTicker(
  product: string,
  price: number,
  open: number,
  sequence: number,
  tradeId: number,
  now: number,
) {
  return {
    type: "ticker",
    sequence,
    product_id: product,
    price: String(price),
    open_24h: String(open),
    volume_24h: "8123.45678901",
    low_24h: String(round(open * 0.99)),
    high_24h: String(round(price * 1.01)),
    volume_30d: "250123.12345678",
    best_bid: String(round(price - 0.01)),
    best_bid_size: "0.51000000",
    best_ask: String(price),
    best_ask_size: "0.02000000",
    side: "buy",
    time: isoMicros(now),
    trade_id: tradeId,
    last_size: "0.00120000",
  };
}

function krakenTicker(symbol: string, price: number, open: number) {
  return {
    symbol,
    bid: round(price - 0.1),
    bid_qty: 0.5,
    ask: price,
    ask_qty: 1.25,
    last: price,
    volume: 1534.61,
    vwap: round((price + open) / 2),
    low: round(open * 0.99),
    high: round(price * 1.01),
    change: round(price - open),
    change_pct: Math.round(((price - open) / open) * 10_000) / 100,
  };
}

// ---- robustness of the pure parsers ----

const COLUMNS = TICKER_COLUMNS.map((c) => c.name).sort();

/** What the checked messages gave; enough of both shows the inputs reached both paths. */
export interface ParseOutcome {
  records: number;
  unusable: number;
}

/**
 * `parse` on `runs` messages, each one of `messages` passed through {@link mutate} (now and
 * then also cut short, so it is not JSON), from a random sequence seeded with `seed` so a
 * failure repeats. Asserts what an adapter promises for any input: it never throws, every
 * record has exactly the ticker v1 columns, `channel: "ws"` and a configured symbol, every
 * unusable part names a problem and keeps at most 2000 characters, every sequence is an integer.
 */
export function checkMutatedMessages(
  parse: (text: string, context: WsContext) => WsParsed,
  context: WsContext,
  messages: readonly unknown[],
  options: { readonly seed: number; readonly runs: number; readonly extra?: readonly unknown[] },
): ParseOutcome {
  const random = seededRandom(options.seed);
  const outcome: ParseOutcome = { records: 0, unusable: 0 };
  for (let i = 0; i < options.runs; i++) {
    const original = messages[Math.floor(random() * messages.length)];
    let text = JSON.stringify(random() < 0.3 ? original : mutate(original, random, options.extra));
    if (random() < 0.05) text = text.slice(0, Math.floor(random() * text.length));
    const out = parse(text, context);
    for (const record of out.records ?? []) {
      assert.deepEqual(Object.keys(record).sort(), COLUMNS);
      assert.equal(record.channel, "ws");
      assert.ok(context.symbols.includes(record.symbol), record.symbol);
    }
    for (const item of out.unusable ?? []) {
      assert.ok(item.raw.length <= MAX_RAW_CHARS);
      assert.ok(item.problems.length > 0);
    }
    for (const mark of out.sequences ?? []) assert.ok(Number.isSafeInteger(mark.seq));
    outcome.records += out.records?.length ?? 0;
    outcome.unusable += out.unusable?.length ?? 0;
  }
  return outcome;
}
