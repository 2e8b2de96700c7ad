/** Version and commit; the commit is stamped at build time by scripts (issue: ship). */
export const VERSION = "0.1.0";
export const COMMIT: string = "dev";
