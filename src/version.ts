/**
 * Version and commit. A checkout reports "dev" (`deno task cryptopipe --version` asks git
 * instead, see cli.ts); scripts/build.ts replaces BUILD_STAMP's text in the bundled JavaScript
 * with the commit and the artifact kind, so both artifacts carry them without a generated file.
 */
export const VERSION = "0.1.0";

/** Replaced whole (quotes included) by scripts/build.ts; keep it a plain string literal. */
const BUILD_STAMP: string = "@@CRYPTOPIPE_BUILD_STAMP@@";

export type ArtifactKind = "bundle" | "compile";

interface BuildStamp {
  readonly commit: string;
  readonly artifact: ArtifactKind;
}

const stamp: BuildStamp | undefined = BUILD_STAMP.startsWith("{")
  ? JSON.parse(BUILD_STAMP)
  : undefined;

/** The commit the artifact was built from, or "dev" when running from a checkout. */
export const COMMIT: string = stamp?.commit ?? "dev";
/** Which shipped artifact this is; undefined when running from a checkout. */
export const ARTIFACT: ArtifactKind | undefined = stamp?.artifact;
