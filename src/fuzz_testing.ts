/**
 * Test support for the property-based fuzz tests (`*_fuzz_test.ts`, fast-check): one fixed seed
 * (printed, and overridable with CRYPTOPIPE_FUZZ_SEED to replay or explore), bounded run
 * counts, and the checks every fuzzed entry point shares: it throws nothing but the project's
 * own typed errors, and each call finishes quickly. Not used by production code.
 */
import fc from "fast-check";
import { CryptopipeError } from "./errors.ts";

export { fc };

export const FUZZ_SEED = Number(Deno.env.get("CRYPTOPIPE_FUZZ_SEED") ?? 20261125);
let announced = false;

/** fast-check parameters: the fixed seed and a bounded number of runs. */
export function fuzzParameters(numRuns: number): fc.Parameters<unknown> {
  if (!announced) {
    announced = true;
    console.error(`fuzz: seed ${FUZZ_SEED} (replay with CRYPTOPIPE_FUZZ_SEED=${FUZZ_SEED})`);
  }
  return { seed: FUZZ_SEED, numRuns, endOnFailure: false };
}

/**
 * A generous bound per call: these functions take microseconds to milliseconds, so only a
 * hang or a catastrophic regular expression gets near it, not a busy CI machine.
 */
export const MAX_CALL_MS = 2_000;

/**
 * Run `call`; fail (with the input) if it throws anything but a CryptopipeError, or takes longer
 * than {@link MAX_CALL_MS}. Returns what it returned, or the typed error it threw.
 */
export function typedOnly<T>(call: () => T, input: unknown): T | CryptopipeError {
  const started = performance.now();
  let result: T | CryptopipeError;
  try {
    result = call();
  } catch (error) {
    if (!(error instanceof CryptopipeError)) {
      throw new Error(
        `threw ${(error as Error)?.name ?? typeof error} (not a project error) on ${
          describeInput(input)
        }: ${(error as Error)?.stack ?? error}`,
      );
    }
    result = error;
  }
  const took = performance.now() - started;
  if (took > MAX_CALL_MS) {
    throw new Error(`took ${took.toFixed(0)} ms (> ${MAX_CALL_MS}) on ${describeInput(input)}`);
  }
  return result;
}

function describeInput(input: unknown): string {
  let text: string;
  try {
    text = typeof input === "string"
      ? JSON.stringify(input)
      : JSON.stringify(input) ?? String(input);
  } catch {
    text = String(input);
  }
  return text.length > 500 ? text.slice(0, 500) + "..." : text;
}

/** Positions are fractions (0..1) of the text's length, so one edit fits any text. */
const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const snippet = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.constantFrom(
    "=",
    "[",
    "]",
    "[[",
    '"',
    "'''",
    "\n",
    "\\u0000",
    ",",
    "{",
    "}",
    "-1",
    "1e999",
    "nan",
    "inf",
    "true",
    "0x7fffffffffffffff",
    "1979-05-27T07:32:00Z",
    "__proto__",
    "constructor",
    "../",
  ),
);

/** Text edits a fuzzer applies to a valid document: insert, delete, replace, duplicate a line. */
export const textEdit: fc.Arbitrary<{ kind: string; at: number; text?: string; length?: number }> =
  fc.oneof(
    fc.record({ kind: fc.constant("insert"), at: position, text: snippet }),
    fc.record({
      kind: fc.constant("delete"),
      at: position,
      length: fc.integer({ min: 1, max: 40 }),
    }),
    fc.record({ kind: fc.constant("replace"), at: position, text: snippet }),
    fc.record({ kind: fc.constant("duplicate-line"), at: position }),
    fc.record({ kind: fc.constant("drop-line"), at: position }),
  );

/** Apply edits in order to `text`. */
export function applyEdits(
  text: string,
  edits: ReadonlyArray<{ kind: string; at: number; text?: string; length?: number }>,
): string {
  let out = text;
  for (const edit of edits) {
    const at = Math.floor(edit.at * (out.length + 1));
    const lines = out.split("\n");
    const line = Math.floor(edit.at * lines.length);
    switch (edit.kind) {
      case "insert":
        out = out.slice(0, at) + edit.text + out.slice(at);
        break;
      case "delete":
        out = out.slice(0, at) + out.slice(at + (edit.length ?? 1));
        break;
      case "replace":
        out = out.slice(0, at) + edit.text + out.slice(at + (edit.text?.length ?? 0));
        break;
      case "duplicate-line":
        lines.splice(line, 0, lines[line] ?? "");
        out = lines.join("\n");
        break;
      case "drop-line":
        lines.splice(line, 1);
        out = lines.join("\n");
        break;
    }
  }
  return out;
}
