import assert from "node:assert/strict";
import { join } from "node:path";
import { validateTicker } from "../record/mod.ts";
import { createSource, type SourceClock, type SourceItem } from "./mod.ts";

/** A clock that only moves when the source sleeps, so pacing is tested without waiting. */
function fakeClock(start = Date.UTC(2026, 10, 24)): SourceClock & { slept: number } {
  let now = start;
  const clock = {
    slept: 0,
    now: () => now,
    sleep: (ms: number) => {
      now += ms;
      clock.slept += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

async function take(
  items: AsyncIterable<SourceItem[]>,
  n: number,
  stop: AbortController,
): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const batch of items) {
    out.push(...batch);
    if (out.length >= n) {
      stop.abort();
      break;
    }
  }
  return out.slice(0, n);
}

const simulated = {
  type: "simulated" as const,
  symbols: ["BTC-USD", "ETH-USDT"],
  rate_per_second: 100,
  seed: 7,
  volatility: 0.01,
};

Deno.test("simulated: same seed, same prices; every record valid", async () => {
  const run = async (seed: number) => {
    const stop = new AbortController();
    const items = await take(
      createSource("sim", { ...simulated, seed }, { clock: fakeClock() }).items(stop.signal),
      500,
      stop,
    );
    return items.map((i) => (i.kind === "record" ? i.record : assert.fail("no rejects expected")));
  };
  const a = await run(7);
  const b = await run(7);
  const c = await run(8);
  assert.deepEqual(a.map((r) => r.price), b.map((r) => r.price));
  assert.notDeepEqual(a.map((r) => r.price), c.map((r) => r.price));
  for (const record of a) assert.ok(validateTicker(record).ok);
  assert.deepEqual(new Set(a.map((r) => r.symbol)), new Set(["BTC-USD", "ETH-USDT"]));
  // USDT is not USD: no USD price without an explicit basis.
  assert.ok(
    a.filter((r) => r.quote === "USDT").every((r) => r.price_usd === null && r.usd_basis === null),
  );
});

Deno.test("simulated: paced to the configured rate", async () => {
  const clock = fakeClock();
  const stop = new AbortController();
  await take(createSource("sim", simulated, { clock }).items(stop.signal), 1000, stop);
  // 1000 records at 100/s take about 10 s of (fake) time.
  assert.ok(clock.slept >= 9_500 && clock.slept <= 10_500, `slept ${clock.slept} ms`);
});

Deno.test("replay: the shipped example replays completely and validly", async () => {
  const path = join(import.meta.dirname!, "..", "..", "examples", "ticker_sample.csv");
  const stop = new AbortController();
  const items: SourceItem[] = [];
  for await (
    const batch of createSource("h", { type: "replay", path, rate_per_second: 0 }, {
      clock: fakeClock(),
    })
      .items(stop.signal)
  ) {
    items.push(...batch);
  }
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").length;
  assert.equal(items.length, lines - 1);
  assert.ok(items.every((i) => i.kind === "record"));
  const first = items[0].kind === "record" ? items[0].record : undefined;
  assert.equal(first?.event_time, Date.UTC(2024, 2, 5), "historical event time kept");
});

Deno.test("replay: bad rows become rejects with their line, good rows still come through", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "in.csv");
  await Deno.writeTextFile(
    path,
    [
      "schema,source,source_kind,channel,symbol,base,quote,source_symbol,price,change_window,event_time",
      "cryptopipe.ticker.v1,kraken,exchange,rest,BTC-USD,BTC,USD,XXBTZUSD,97000,utc_day,",
      "cryptopipe.ticker.v1,kraken,exchange,rest,BTC-USD,BTC,USD,XXBTZUSD,abc,utc_day,",
      "cryptopipe.ticker.v1,kraken,exchange",
      "cryptopipe.ticker.v1,kraken,exchange,rest,ETH-USD,ETH,USD,XETHZUSD,3400,utc_day,1709596800000",
    ].join("\n"),
  );
  const items: SourceItem[] = [];
  for await (
    const batch of createSource("h", { type: "replay", path, rate_per_second: 0 }, {
      clock: fakeClock(),
    })
      .items(new AbortController().signal)
  ) {
    items.push(...batch);
  }
  assert.deepEqual(items.map((i) => i.kind), ["record", "rejected", "rejected", "record"]);
  const [, priceRow, shortRow] = items;
  assert.ok(priceRow.kind === "rejected" && shortRow.kind === "rejected");
  assert.equal(priceRow.rejected.origin, `${path}:3`);
  assert.match(priceRow.rejected.problems.join(), /price: expected a finite number/);
  assert.match(priceRow.rejected.raw, /XXBTZUSD,abc/);
  assert.match(shortRow.rejected.problems.join(), /expected 11 columns, found 3/);
  const first = items[0];
  assert.ok(first.kind === "record");
  assert.equal(first.record.event_time, null, "Kraken has no event time");
});

Deno.test("replay: a header with an unknown column is a usage error", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "in.csv");
  await Deno.writeTextFile(path, "schema,prize\n");
  const items = createSource("h", { type: "replay", path, rate_per_second: 0 }, {
    clock: fakeClock(),
  }).items(
    new AbortController().signal,
  );
  await assert.rejects(async () => {
    for await (const _ of items) { /* drain */ }
  }, /unknown column "prize"/);
});
