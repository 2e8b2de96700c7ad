/**
 * A local HTTP server that speaks the five providers' documented REST shapes
 * (exchange-apis.md; realistic values, not captured data), for produce tests without internet.
 * Every answer is fresh: prices move and event times are "now", so the producer's skew and
 * dedup checks see live-looking data. A test scripts faults per path: a queue of canned
 * answers (429 with Retry-After, 418, 451, 5xx, HTML pages, truncated or NaN bodies, slow
 * answers, bodies that stall halfway, connections broken mid-body) served before the normal
 * ones resume. Every request is recorded with its time and headers (to check API keys and
 * pacing).
 */

export interface Fault {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  /** The body as sent; `undefined` with a 200 = the normal body. */
  readonly body?: string;
  /** Wait this long before answering (slow provider); with `stallBody`, the stall instead. */
  readonly delayMs?: number;
  /** Send the normal body cut in half (truncated JSON). */
  readonly truncate?: boolean;
  /** Send the normal body with this transformation (NaN, negative, stale prices...). */
  readonly mutate?: (body: unknown) => unknown;
  /**
   * Send the status, the headers and the first half of the body at once, then stall the body
   * for `delayMs` before the rest: a body slower than request_timeout_ms.
   */
  readonly stallBody?: boolean;
  /**
   * Send the status, the headers and the first half of the body, then break the connection
   * (the body stream errors, so the client sees a connection error mid-body, not an end).
   */
  readonly drop?: boolean;
}

/** One request as the server saw it. */
export interface SeenRequest {
  /** Epoch ms when it arrived. */
  readonly at: number;
  /** "GET /path?query". */
  readonly line: string;
  /** Request headers, names lower-case. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface ExchangeServer {
  readonly url: string;
  /** Queue faults for requests whose path starts with `pathPrefix`, served in order. */
  fail(pathPrefix: string, ...faults: Fault[]): void;
  /** Requests seen: when, "GET /path?query", and their headers. */
  readonly requests: SeenRequest[];
  /** Freeze a provider's answers (same prices, same times): for dedup tests. */
  freeze(pathPrefix: string, frozen: boolean): void;
  close(): Promise<void>;
}

const BASE_PRICES: Record<string, number> = { BTC: 91_000, ETH: 3_050, SOL: 205, DOGE: 0.38 };

export function startExchangeServer(): ExchangeServer {
  const queues = new Map<string, Fault[]>();
  const frozen = new Map<string, number>();
  const requests: SeenRequest[] = [];
  /** Bodies still stalling or about to drop: close() ends them so shutdown does not wait. */
  const pending = new Set<() => void>();
  let tick = 0;

  const bodyFor = (url: URL, now: number): unknown => {
    const t = tick++;
    const price = (base: string) =>
      Math.round((BASE_PRICES[base] ?? 1) * (1 + Math.sin(t / 3) / 200) * 100) / 100;
    const path = url.pathname;
    const q = url.searchParams;
    if (path === "/api/v3/coins/markets") {
      const ids: Record<string, string> = {
        bitcoin: "BTC",
        ethereum: "ETH",
        solana: "SOL",
        dogecoin: "DOGE",
      };
      return (q.get("ids") ?? "").split(",").filter((id) => ids[id]).map((id) => ({
        id,
        symbol: ids[id].toLowerCase(),
        name: id,
        current_price: price(ids[id]),
        market_cap: price(ids[id]) * 19_000_000,
        total_volume: 28_456_123_456,
        high_24h: price(ids[id]) * 1.01,
        low_24h: price(ids[id]) * 0.99,
        price_change_percentage_24h: -0.7563,
        price_change_percentage_1h_in_currency: 0.12,
        price_change_percentage_24h_in_currency: -0.7563,
        price_change_percentage_7d_in_currency: 3.2,
        last_updated: new Date(now).toISOString(),
      }));
    }
    if (path === "/api/v3/ticker/24hr") {
      const symbols = JSON.parse(q.get("symbols") ?? "[]") as string[];
      return symbols.map((symbol, i) => {
        const base = symbol.replace(/(USDT|USDC|USD)$/, "");
        const p = price(base);
        return {
          symbol,
          priceChangePercent: "-0.756",
          lastPrice: p.toFixed(8),
          bidPrice: (p - 0.01).toFixed(8),
          askPrice: p.toFixed(8),
          openPrice: (p * 1.0076).toFixed(8),
          highPrice: (p * 1.01).toFixed(8),
          lowPrice: (p * 0.99).toFixed(8),
          volume: "21534.77100000",
          quoteVolume: "1443920155.12",
          openTime: now - 86_400_000,
          closeTime: now - i,
          lastId: 3_613_110_456 + t,
        };
      });
    }
    if (path === "/data/pricemultifull") {
      const raw: Record<string, Record<string, unknown>> = {};
      for (const f of (q.get("fsyms") ?? "").split(",")) {
        raw[f] = {};
        for (const to of (q.get("tsyms") ?? "").split(",")) {
          raw[f][to] = {
            FROMSYMBOL: f,
            TOSYMBOL: to,
            PRICE: price(f),
            LASTUPDATE: Math.floor(now / 1000) - (t % 2),
            VOLUME24HOUR: 31_234.5,
            VOLUME24HOURTO: 2_094_412_345.6,
            OPEN24HOUR: price(f) * 1.0075,
            HIGH24HOUR: price(f) * 1.01,
            LOW24HOUR: price(f) * 0.99,
            CHANGEPCT24HOUR: -0.7538,
            MKTCAP: price(f) * 19_000_000,
          };
        }
      }
      return { RAW: raw, DISPLAY: {} };
    }
    const coinbase = /^\/products\/([A-Z0-9]+)-([A-Z0-9]+)\/(ticker|stats)$/.exec(path);
    if (coinbase) {
      const p = price(coinbase[1]);
      return coinbase[3] === "ticker"
        ? {
          ask: (p + 0.01).toFixed(2),
          bid: p.toFixed(2),
          volume: "12345.678",
          price: p.toFixed(2),
          size: "0.01",
          trade_id: 700_000_000 + t,
          time: new Date(now).toISOString().replace("Z", "123Z"),
        }
        : {
          open: (p * 0.99).toFixed(2),
          high: (p * 1.01).toFixed(2),
          low: (p * 0.98).toFixed(2),
          last: p.toFixed(2),
          volume: "12345.678",
        };
    }
    if (path === "/0/public/Ticker") {
      const result: Record<string, unknown> = {};
      for (const pair of (q.get("pair") ?? "XBTUSD").split(",")) {
        const [base, quote] = [pair.slice(0, -3), pair.slice(-3)];
        const name = base.length === 3 && quote === "USD" && ["XBT", "ETH"].includes(base)
          ? `X${base}Z${quote}`
          : pair;
        const p = price(base === "XBT" ? "BTC" : base === "XDG" ? "DOGE" : base);
        result[name] = {
          a: [(p + 0.1).toFixed(1), "1", "1.000"],
          b: [p.toFixed(1), "3", "3.000"],
          c: [p.toFixed(1), "0.0015"],
          v: ["1203.51", "2987.12"],
          p: [p.toFixed(2), p.toFixed(2)],
          t: [12_000, 30_000],
          l: [(p * 0.99).toFixed(1), (p * 0.98).toFixed(1)],
          h: [(p * 1.01).toFixed(1), (p * 1.02).toFixed(1)],
          o: (p * 0.995).toFixed(1),
        };
      }
      return { error: [], result };
    }
    return undefined;
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      requests.push({
        at: Date.now(),
        line: `GET ${url.pathname}${url.search}`,
        headers: Object.fromEntries(request.headers),
      });
      const prefix = [...queues.keys()].find((p) => url.pathname.startsWith(p));
      const fault = prefix !== undefined ? queues.get(prefix)!.shift() : undefined;
      if (prefix !== undefined && queues.get(prefix)!.length === 0) queues.delete(prefix);
      if (fault?.delayMs && !fault.stallBody) {
        await new Promise((r) => setTimeout(r, fault.delayMs));
      }
      const frozenAt = [...frozen.entries()].find(([p]) => url.pathname.startsWith(p))?.[1];
      const savedTick = tick;
      if (frozenAt !== undefined) tick = 0;
      let body = bodyFor(url, frozenAt ?? Date.now());
      if (frozenAt !== undefined) tick = savedTick;
      if (body === undefined) return new Response('{"message":"NotFound"}', { status: 404 });
      if (fault?.mutate) body = fault.mutate(body);
      let text = fault?.body ?? JSON.stringify(body);
      if (fault?.truncate) text = text.slice(0, Math.floor(text.length / 2));
      const init = {
        status: fault?.status ?? 200,
        headers: { "content-type": "application/json", ...fault?.headers },
      };
      if (fault?.stallBody || fault?.drop) {
        return new Response(halfThen(text, fault.drop ? "drop" : fault.delayMs ?? 0), init);
      }
      return new Response(text, init);
    },
  );

  /**
   * A body stream: the first half of `text` at once, then after `then` ms the rest, or (drop)
   * an error shortly after, which makes Deno.serve break the connection mid-body.
   */
  const halfThen = (text: string, then: number | "drop"): ReadableStream<Uint8Array> => {
    const bytes = new TextEncoder().encode(text);
    const half = bytes.byteLength >> 1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finish = () => {};
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, half));
        finish = () => {
          clearTimeout(timer);
          pending.delete(finish);
          try {
            if (then === "drop") {
              // A string, not an Error: Deno prints the reason, and a stack would look like a bug.
              controller.error(
                "exchange server: drop fault, connection broken mid-body on purpose",
              );
            } else {
              controller.enqueue(bytes.subarray(half));
              controller.close();
            }
          } catch {
            // The client went away first (the stream is already cancelled).
          }
        };
        pending.add(finish);
        // A drop waits a moment so the status, headers and first half are on the wire first.
        timer = setTimeout(finish, then === "drop" ? 50 : then);
      },
      cancel() {
        clearTimeout(timer);
        pending.delete(finish);
      },
    });
  };

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    fail(pathPrefix, ...faults) {
      queues.set(pathPrefix, [...(queues.get(pathPrefix) ?? []), ...faults]);
    },
    freeze(pathPrefix, on) {
      if (on) frozen.set(pathPrefix, Date.now());
      else frozen.delete(pathPrefix);
    },
    close: () => {
      for (const finish of [...pending]) finish();
      return server.shutdown();
    },
  };
}
