/**
 * TLS verification has no off switch: no code of ours (src/, scripts/, main.ts) disables
 * certificate checks, and the one place that builds Kafka's TLS options sets verification on
 * explicitly. A grep, as reliability-and-bench.md §6 asks ("treat as a lint error").
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { REPO_ROOT } from "./helpers.ts";

const FORBIDDEN = [
  /rejectUnauthorized\s*:\s*false/,
  /NODE_TLS_REJECT_UNAUTHORIZED/,
  /--unsafely-ignore-certificate-errors/,
  /checkServerIdentity\s*:/,
];

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.(ts|sh)$/.test(entry.name) && !entry.name.endsWith("_test.ts")) yield path;
  }
}

Deno.test("TLS: no source file turns certificate verification off", async () => {
  const offenders: string[] = [];
  let files = 0;
  for (const dir of ["src", "scripts"]) {
    for await (const file of sourceFiles(join(REPO_ROOT, dir))) {
      files++;
      const text = await Deno.readTextFile(file);
      for (const pattern of FORBIDDEN) {
        if (pattern.test(text)) offenders.push(`${relative(REPO_ROOT, file)}: ${pattern}`);
      }
    }
  }
  assert.ok(files > 50, `searched ${files} files`);
  assert.deepEqual(offenders, []);
  // The negative control: the patterns do match the switches they are meant to catch.
  assert.ok(FORBIDDEN[0].test("{ rejectUnauthorized: false }"));
  assert.match(
    await Deno.readTextFile(join(REPO_ROOT, "src/bus/kafka.ts")),
    /rejectUnauthorized: true/,
  );
});
