/**
 * The allowlists for every name that reaches a file path, an object key or a SQL identifier:
 * topics, tables, databases, source names, symbols, the S3 key prefix. One place, used by the
 * config schema (a bad name is a config error naming the key, exit 2) and again by the lake
 * layout and the local store before a path is made (defence in depth: nothing is written
 * outside the lake root, whatever a caller passes). `..`, `/`, `\`, NUL, control characters
 * and overlong names match none of them.
 */

/**
 * Kafka's topic characters, minus "." and ".." (path parts); at most 200 (Kafka allows 249), so
 * "<topic>+<partition>+<20 digits>.jsonl.gz" stays under the 255-byte file-name limit.
 */
export const TOPIC_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$/;
export const TOPIC_RULE = 'must be 1-200 of A-Z a-z 0-9 . _ - (not "." or "..")';

/** Tables, databases and source names: folder names and SQL identifiers alike. */
export const IDENTIFIER_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const IDENTIFIER_RULE = "must be lower-case a-z 0-9 _ (at most 64) and start with a letter";

/** `<table>_dedup` is each table's dedup view (src/catalog/dedup_view.ts): no table may take it. */
export const DEDUP_SUFFIX = "_dedup";
export const TABLE_SUFFIX_RULE =
  `must not end in ${DEDUP_SUFFIX}: that name is the table's dedup view`;

/** Trading pairs as BASE-QUOTE. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/;
export const SYMBOL_RULE = "must be BASE-QUOTE, upper-case (e.g. BTC-USD)";

/** S3 key prefix: key parts of safe characters separated by "/", none "." or "..". */
export const PREFIX_PATTERN =
  /^((?!\.{1,2}(\/|$))[A-Za-z0-9!_.*'()=-]{1,255}(\/(?!\.{1,2}(\/|$))[A-Za-z0-9!_.*'()=-]{1,255})*)?$/;
export const PREFIX_RULE =
  'must be key parts of A-Z a-z 0-9 ! _ . * \' ( ) = - separated by /, without leading or trailing /, "." or ".." parts';
export const MAX_PREFIX_LENGTH = 512;

export type NameKind = "topic" | "table" | "symbol";

const RULES: Record<NameKind, readonly [RegExp, string]> = {
  topic: [TOPIC_PATTERN, TOPIC_RULE],
  table: [IDENTIFIER_PATTERN, IDENTIFIER_RULE],
  symbol: [SYMBOL_PATTERN, SYMBOL_RULE],
};

/** Why `name` is not a valid name of this kind, or undefined if it is. */
export function nameProblem(kind: NameKind, name: unknown): string | undefined {
  const [pattern, rule] = RULES[kind];
  if (typeof name === "string" && pattern.test(name)) return undefined;
  const shown = JSON.stringify(typeof name === "string" ? name.slice(0, 60) : String(name));
  return `${kind} ${shown}${typeof name === "string" && name.length > 60 ? "..." : ""} ${rule}`;
}
