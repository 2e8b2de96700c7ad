/** catalog: register the lake's tables (idempotent; safe to run on a timer). */
import { createCatalog, lakeTables, type RegisterResult } from "../catalog/mod.ts";
import type { ModeContext } from "./context.ts";

export async function catalog(ctx: ModeContext): Promise<Record<string, RegisterResult>> {
  const target = createCatalog(ctx.config);
  const results: Record<string, RegisterResult> = {};
  for (const table of lakeTables(ctx.config)) {
    results[table.name] = await target.register(table);
    ctx.logger.info(`table ${table.database}.${table.name} ${results[table.name]}`, {
      catalog: target.describe,
    });
  }
  return results;
}
