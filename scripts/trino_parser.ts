/**
 * Trino's own SQL parser, to check that SQL is valid for Athena engine v3 (Trino) without AWS:
 * moto runs no SQL, and DuckDB accepts syntax Trino rejects (QUALIFY, SELECT * EXCLUDE).
 * The parser jars come from Maven Central via Maven into the git-ignored .cache/; Java's
 * single-file source launcher runs scripts/trino/SqlParse.java, so nothing is compiled here.
 * This checks syntax only: table, column and function names are not resolved.
 *
 *   deno run -A scripts/trino_parser.ts parse [FILE ...]   parse each file (or stdin) as one
 *                                                          statement; exit 1 if any is rejected
 *   deno run -A scripts/trino_parser.ts jars               only fetch the jars (CI)
 */
import { Buffer } from "node:buffer";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { preflight, REPO_ROOT, SetupError } from "./local_kafka.ts";

/** Trino 406 still runs on Java 17 (later releases moved to newer Java). */
export const TRINO_VERSION = "406";
const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
const LIB_DIR = join(REPO_ROOT, ".cache", "trino-parser", TRINO_VERSION, "lib");
const PROGRAM = join(SCRIPT_DIR, "trino", "SqlParse.java");

export type TrinoParse = { ok: true; parameters: number } | { ok: false; error: string };

async function output(cmd: string, options: Deno.CommandOptions): Promise<Deno.CommandOutput> {
  try {
    return await new Deno.Command(cmd, { stdout: "piped", stderr: "piped", ...options }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new SetupError(`${cmd} is not installed`);
    throw error;
  }
}

/** Resolve the parser jars into .cache/trino-parser/<version>/lib (once). */
export async function ensureTrinoParserJars(
  log: (line: string) => void = console.error,
): Promise<string> {
  const marker = join(LIB_DIR, `trino-parser-${TRINO_VERSION}.jar`);
  if (await Deno.stat(marker).then(() => true, () => false)) return LIB_DIR;
  await preflight(["java", "mvn"]);
  log(`fetching the Trino ${TRINO_VERSION} SQL parser jars from Maven Central into ${LIB_DIR} ...`);
  // Copy into a private directory and rename it into place, so an interrupted or concurrent
  // fetch never leaves a half-filled lib/ that looks complete.
  const partial = `${LIB_DIR}.partial-${Deno.pid}`;
  const out = await output("mvn", {
    args: [
      "-q",
      "-B",
      "-f",
      join(SCRIPT_DIR, "trino", "pom.xml"),
      `-Dtrino.version=${TRINO_VERSION}`,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${partial}`,
    ],
  });
  if (!out.success) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    throw new SetupError(
      `mvn could not fetch the Trino parser jars:\n${new TextDecoder().decode(out.stdout)}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  try {
    await Deno.rename(partial, LIB_DIR);
  } catch (error) {
    // Another process got there first; its copy is as good as ours.
    await Deno.remove(partial, { recursive: true });
    if (!(await Deno.stat(marker).then(() => true, () => false))) throw error;
  }
  return LIB_DIR;
}

/** Parse each statement with Trino's parser (one JVM for all); results are in input order. */
export async function trinoParse(statements: readonly string[]): Promise<TrinoParse[]> {
  const lib = await ensureTrinoParserJars();
  // One base64 line per statement, so newlines and quotes in SQL need no escaping.
  const input = statements.map((sql) => Buffer.from(sql, "utf8").toString("base64") + "\n");
  let java: Deno.ChildProcess;
  try {
    java = new Deno.Command("java", {
      args: ["-cp", `${lib}/*`, PROGRAM],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new SetupError("java is not installed");
    throw error;
  }
  // Read while writing: a full stdout pipe would otherwise stall both sides. A write error
  // means Java died early; its stderr below says why.
  const write = (async () => {
    const writer = java.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input.join("")));
    await writer.close();
  })().catch(() => {});
  const [out] = await Promise.all([java.output(), write]);
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  if (!out.success || lines.length !== statements.length) {
    throw new Error(
      `the Trino parser failed (exit ${out.code}, ${lines.length} of ${statements.length} answers):\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return lines.map((line) =>
    line.startsWith("ok ")
      ? { ok: true, parameters: Number(line.slice(3)) }
      : { ok: false, error: line.replace(/^error: /, "") }
  );
}

if (import.meta.main) {
  const [command, ...files] = Deno.args;
  try {
    if (command === "jars") {
      console.error(`Trino ${TRINO_VERSION} parser jars in ${await ensureTrinoParserJars()}`);
    } else if (command === "parse") {
      const names = files.length > 0 ? files : ["-"];
      const statements = await Promise.all(
        names.map((f) =>
          f === "-" ? new Response(Deno.stdin.readable).text() : Deno.readTextFile(f)
        ),
      );
      // Like `--mode query --file`: one statement, a trailing `;` dropped.
      const results = await trinoParse(statements.map((sql) => sql.trim().replace(/;+$/, "")));
      results.forEach((result, i) => {
        const name = names[i] === "-" ? "stdin" : names[i];
        console.log(
          result.ok
            ? `${name}: ok (${result.parameters} parameters)`
            : `${name}: error: ${result.error}`,
        );
      });
      Deno.exitCode = results.every((r) => r.ok) ? 0 : 1;
    } else {
      console.error("usage: deno run -A scripts/trino_parser.ts parse [FILE ...] | jars");
      Deno.exitCode = 2;
    }
  } catch (error) {
    // A missing tool or input file is the user's to fix: one line, no stack.
    const known = error instanceof SetupError || error instanceof Deno.errors.NotFound;
    console.error(`error: ${known ? (error as Error).message : (error as Error).stack}`);
    Deno.exitCode = known ? 2 : 3;
  }
}
