/**
 * Fuzzing the record validator and decoder (fast-check, fixed seed, bounded runs): random
 * values, random bytes, and valid records with fields replaced by random JSON. They never
 * throw, and what they accept is a complete ticker v1 record that passes again.
 */
import assert from "node:assert/strict";
import { SYMBOL_PATTERN } from "../config/names.ts";
import { fc, fuzzParameters, typedOnly } from "../fuzz_testing.ts";
import { decodeRecord, TICKER_COLUMNS, validateTicker } from "./mod.ts";
import { sampleTicker } from "./testing.ts";

const COLUMNS = TICKER_COLUMNS.map((c) => c.name);

function check(value: unknown): boolean {
  const result = typedOnly(() => validateTicker(value), value);
  assert.ok(!(result instanceof Error), "validateTicker never throws");
  if (!result.ok) {
    assert.ok(result.problems.length > 0);
    return false;
  }
  assert.deepEqual(Object.keys(result.record).sort(), [...COLUMNS].sort());
  assert.match(result.record.symbol, SYMBOL_PATTERN);
  assert.ok(validateTicker(result.record).ok, "an accepted record passes again");
  return true;
}

Deno.test("record fuzz: validateTicker never throws on random values", () => {
  fc.assert(
    fc.property(fc.anything({ maxDepth: 3 }), (value) => void check(value)),
    fuzzParameters(2000),
  );
});

Deno.test("record fuzz: valid records with random fields are accepted or rejected, never thrown on", () => {
  let accepted = 0;
  let rejected = 0;
  const field = fc.oneof(
    fc.constantFrom(...COLUMNS),
    fc.string({ maxLength: 12 }),
    fc.constant("__proto__"),
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          field,
          fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.double(), fc.constant(undefined)),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
      (changes) => {
        const record: Record<string, unknown> = { ...sampleTicker() };
        for (const [name, value] of changes) {
          Object.defineProperty(record, name, { value, enumerable: true, writable: true });
        }
        if (check(record)) accepted++;
        else rejected++;
      },
    ),
    fuzzParameters(2000),
  );
  assert.ok(accepted > 20 && rejected > 500, `${accepted} accepted, ${rejected} rejected`);
});

Deno.test("record fuzz: decodeRecord never throws on random bytes, text or JSON", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.constant(null),
      ),
      fc.option(fc.string({ maxLength: 30 })),
      (payload, header) => {
        const result = typedOnly(() => decodeRecord(payload, header), payload);
        assert.ok(!(result instanceof Error));
        if (!result.ok) assert.ok(result.problems.length > 0);
      },
    ),
    fuzzParameters(2000),
  );
});
