/**
 * Style rule check, run by `deno task ok`: every third-party package is imported by exactly
 * one non-test file under src/ (one door per client), and no file outside main.ts calls Deno.exit.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
const packages = Object.keys(config.imports as Record<string, string>);
const importers = new Map<string, string[]>();
const problems: string[] = [];

async function* files(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* files(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

for await (const file of files(join(root, "src"))) {
  // Tests may read what production code wrote with any tool; the rule is about production doors.
  if (file.endsWith("_test.ts")) continue;
  const text = await Deno.readTextFile(file);
  const name = relative(root, file);
  for (const match of text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gm)) {
    const spec = match[1];
    const pkg = packages.find((p) => spec === p || spec.startsWith(p + "/"));
    if (pkg) importers.set(pkg, [...(importers.get(pkg) ?? []), name]);
  }
  if (/\bDeno\.exit\s*\(/.test(text)) problems.push(`${name}: Deno.exit outside main.ts`);
}
for (const [pkg, users] of importers) {
  const unique = [...new Set(users)];
  if (unique.length > 1) {
    problems.push(`${pkg} is imported by ${unique.length} files: ${unique.join(", ")}`);
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  Deno.exit(1);
}
console.error(`imports ok: ${importers.size} third-party packages, one importer each`);
