/**
 * catalog --expire and --compact both delete lake files; on a local lake they exclude each other
 * with an advisory lock (flock) on `<lake>/.maintenance.lock`. The kernel drops the lock when the
 * process ends, even by kill -9, so a crash leaves nothing stale behind. It sits at the lake root,
 * not in `.tmp/`, whose old entries the file store cleans up. An S3 lake has no --expire (its
 * lifecycle rule expires by itself) and no lock: two --compact runs there lose nothing
 * (write-once names, deletes only of covered files), but the later one may stop on an input
 * the earlier one deleted; the next run finishes the work.
 */
import { join } from "node:path";
import type { LoadedConfig } from "../config/mod.ts";
import { RuntimeFailure } from "../errors.ts";

export const MAINTENANCE_LOCK = ".maintenance.lock";

/** Run `work` holding the lake's maintenance lock; exit 3 at once when another run holds it. */
export async function withMaintenanceLock<T>(
  config: Pick<LoadedConfig, "store">,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  if (config.store.type === "s3") return await work();
  const path = join(config.store.path, MAINTENANCE_LOCK);
  await Deno.mkdir(config.store.path, { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    if (!await file.tryLock(true)) {
      throw new RuntimeFailure(
        `Cannot run ${what}: another catalog --expire or --compact is running on this lake ` +
          `(it holds ${path}); run them one after the other`,
      );
    }
    return await work();
  } finally {
    file.close(); // closing releases the lock
  }
}
