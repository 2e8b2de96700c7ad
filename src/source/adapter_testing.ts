/**
 * Test support for the REST adapters (coingecko_test.ts, binance_test.ts, …): the fixture
 * loader for testdata/, and the seeded mutation harness behind each adapter's "normalize never
 * throws on N mutated inputs" test. Not used by production code.
 */
import assert from "node:assert/strict";
import { TICKER_COLUMNS } from "../record/mod.ts";
import { MAX_RAW_CHARS } from "./fields.ts";
import type { NormalizeContext, PollResponse, RestAdapter } from "./rest.ts";
import { seededRandom } from "./simulated.ts";

/** A JSON fixture from src/source/testdata/, parsed. */
export function fixture(name: string): unknown {
  return JSON.parse(Deno.readTextFileSync(new URL(`./testdata/${name}`, import.meta.url)));
}

/** What a mutation puts in place of a node: wrong types, odd numbers, odd strings. */
export const GARBAGE: readonly unknown[] = [
  null,
  "",
  "abc",
  "NaN",
  -1,
  0,
  {},
  [],
  1e308,
  Infinity,
  Number.MAX_SAFE_INTEGER * 4096,
  true,
  "__proto__",
  "1e400",
  "99999999999999999999999999",
];

/**
 * A copy of `value` with one to four random nodes (leaves or containers) replaced by an item of
 * {@link GARBAGE} or `extra`, or deleted; now and then the whole value is replaced.
 */
export function mutate(
  value: unknown,
  random: () => number,
  extra: readonly unknown[] = [],
): unknown {
  const garbage = [...GARBAGE, ...extra];
  let root = structuredClone(value);
  const count = 1 + Math.floor(random() * 4);
  for (let m = 0; m < count; m++) {
    const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) {
        node.forEach((child, i) => {
          slots.push([node, i]);
          walk(child);
        });
      } else if (typeof node === "object" && node !== null) {
        for (const [key, child] of Object.entries(node)) {
          slots.push([node as Record<string, unknown>, key]);
          walk(child);
        }
      }
    };
    walk(root);
    const replacement = structuredClone(garbage[Math.floor(random() * garbage.length)]);
    if (slots.length === 0 || random() < 0.02) {
      root = replacement;
      continue;
    }
    const [parent, key] = slots[Math.floor(random() * slots.length)];
    if (random() < 0.25) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Record<string, unknown>)[key as string];
    } else {
      (parent as Record<string | number, unknown>)[key] = replacement;
    }
  }
  return root;
}

/** What the checked polls gave; enough of both shows the inputs reached both paths. */
export interface Outcome {
  records: number;
  unusable: number;
}

const COLUMNS = TICKER_COLUMNS.map((c) => c.name).sort();

/**
 * `bodyError` on every body and `normalize` on the poll, asserting what an adapter promises
 * for any input: neither throws, every record has exactly the ticker v1 columns and one of the
 * configured symbols, every Unusable names a problem and keeps at most 2000 characters of raw
 * text. The counts are added to `outcome`.
 */
export function checkPoll(
  adapter: RestAdapter,
  poll: readonly PollResponse[],
  context: NormalizeContext,
  outcome: Outcome,
): void {
  for (const response of poll) adapter.bodyError(response.body);
  const out = adapter.normalize(poll, context);
  assert.ok(Array.isArray(out.records) && Array.isArray(out.unusable));
  for (const record of out.records) {
    assert.deepEqual(Object.keys(record).sort(), COLUMNS);
    assert.ok(context.symbols.includes(record.symbol), record.symbol);
  }
  for (const item of out.unusable) {
    assert.ok(item.raw.length <= MAX_RAW_CHARS);
    assert.ok(item.problems.length > 0);
  }
  outcome.records += out.records.length;
  outcome.unusable += out.unusable.length;
}

/**
 * {@link checkPoll} on `runs` polls, the i-th made by `poll(random, i)` from one random sequence
 * seeded with `seed` (typically fixtures passed through {@link mutate}), so a failure repeats.
 */
export function checkMutatedPolls(
  adapter: RestAdapter,
  context: NormalizeContext,
  options: {
    readonly seed: number;
    readonly runs: number;
    readonly poll: (random: () => number, i: number) => PollResponse[];
  },
): Outcome {
  const random = seededRandom(options.seed);
  const outcome: Outcome = { records: 0, unusable: 0 };
  for (let i = 0; i < options.runs; i++) {
    checkPoll(adapter, options.poll(random, i), context, outcome);
  }
  return outcome;
}
