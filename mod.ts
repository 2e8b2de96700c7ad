/**
 * cryptopipe as a library: the stage doors, in data-flow order.
 * source → record → bus → batch → encode → store → catalog → query
 */
export * from "./src/source/mod.ts";
export * from "./src/record/mod.ts";
export * from "./src/bus/mod.ts";
export * from "./src/batch/mod.ts";
export * from "./src/encode/mod.ts";
export * from "./src/store/mod.ts";
export * from "./src/catalog/mod.ts";
export * from "./src/query/mod.ts";
export { configPath, loadConfig, type LoadedConfig, parseConfig } from "./src/config/mod.ts";
export {
  AuthFailure,
  ConfigError,
  CryptopipeError,
  EXIT,
  RuntimeFailure,
  UsageError,
} from "./src/errors.ts";
export { runCli } from "./src/cli.ts";
