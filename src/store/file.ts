/**
 * The local-folder store (the embedded default). Write-once by construction: bytes go to a
 * temp file in <lake>/.tmp (same filesystem, outside every table), are fsynced, then
 * hard-linked to the final name. link(2) fails if the name exists, where rename(2) would
 * silently replace it. The folder is fsynced so the new name survives a power cut.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { RuntimeFailure } from "../errors.ts";
import { isPlainKey } from "./layout.ts";
import type { CreateResult, FileMetadata, Store } from "./mod.ts";

const TMP_DIR = ".tmp";
/** Temp files older than this are leftovers of a crash, never a live writer's. */
const STALE_TMP_MS = 60 * 60 * 1000;

export class FileStore implements Store {
  readonly describe: string;
  #cleaned = false;

  constructor(readonly root: string) {
    this.describe = `local folder ${root}`;
  }

  #path(key: string): string {
    if (!isPlainKey(key)) {
      throw new RuntimeFailure(
        `Cannot use lake key ${JSON.stringify(key)}: not a plain relative path`,
      );
    }
    const path = join(this.root, ...key.split("/"));
    // Belt and braces: whatever the key, the path stays under the lake root.
    const inside = relative(resolve(this.root), resolve(path));
    if (inside.startsWith("..") || isAbsolute(inside)) {
      throw new RuntimeFailure(`Cannot use lake key ${JSON.stringify(key)}: outside the lake`);
    }
    return path;
  }

  async #cleanStaleTemp(tmpDir: string): Promise<void> {
    if (this.#cleaned) return;
    this.#cleaned = true;
    const now = Date.now();
    try {
      for await (const entry of Deno.readDir(tmpDir)) {
        const path = join(tmpDir, entry.name);
        const info = await Deno.stat(path);
        if (now - (info.mtime?.getTime() ?? now) > STALE_TMP_MS) {
          // Recursive: a partition parked by removeFolder is a folder.
          await Deno.remove(path, { recursive: true }).catch(() => {});
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** The metadata is already inside the file (Parquet footer, JSON rows); it is not stored twice. */
  async createOnce(
    key: string,
    bytes: Uint8Array,
    _metadata?: FileMetadata,
  ): Promise<CreateResult> {
    const target = this.#path(key);
    const tmpDir = join(this.root, TMP_DIR);
    try {
      await Deno.mkdir(tmpDir, { recursive: true });
      await this.#cleanStaleTemp(tmpDir);
      await Deno.mkdir(dirname(target), { recursive: true });
      const tmp = join(tmpDir, `${crypto.randomUUID()}.part`);
      const file = await Deno.open(tmp, { write: true, createNew: true });
      try {
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
        await file.sync();
      } catch (error) {
        // A full disk must not be filled further by half-written temp files.
        file.close();
        await Deno.remove(tmp).catch(() => {});
        throw error;
      }
      file.close();
      let result: CreateResult = "created";
      try {
        await Deno.link(tmp, target);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        result = "exists";
      } finally {
        await Deno.remove(tmp);
      }
      // Sync the folder and its parents up to the lake root: mkdir may have created them, and
      // an "exists" may be the link of a run that crashed before its own folder sync.
      for (let dir = dirname(target);; dir = dirname(dir)) {
        await syncDirectory(dir);
        if (relative(this.root, dir) === "" || dir === dirname(dir)) break;
      }
      return result;
    } catch (error) {
      throw new RuntimeFailure(`Cannot write ${target}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Local files carry their facts inside (Parquet footer, JSON rows): nothing apart. */
  metadata(_key: string): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  async read(key: string): Promise<Uint8Array> {
    const path = this.#path(key);
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw new RuntimeFailure(`Cannot read ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const start = this.#path(prefix.replace(/\/+$/, ""));
    const keys: string[] = [];
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory) await walk(path);
        else if (entry.isFile) keys.push(relative(this.root, path).split(sep).join("/"));
      }
    };
    try {
      await walk(start);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new RuntimeFailure(`Cannot list ${start}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      // No folder fsync: a delete lost to a power cut brings back a file whose rows a compacted
      // file already holds, which the next compaction finds and deletes again.
      await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw new RuntimeFailure(`Cannot delete ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async folders(prefix: string): Promise<string[]> {
    const start = this.#path(prefix.replace(/\/+$/, ""));
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(start)) {
        if (entry.isDirectory) names.push(entry.name);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new RuntimeFailure(`Cannot list ${start}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return names.sort();
  }

  /**
   * Retention: the folder is first renamed into <lake>/.tmp (one atomic step, so no reader or
   * catalog sees half a partition), then deleted there. A crash in between leaves it in .tmp,
   * outside every table.
   */
  async removeFolder(prefix: string): Promise<void> {
    const path = this.#path(prefix.replace(/\/+$/, ""));
    const tmpDir = join(this.root, TMP_DIR);
    const parked = join(tmpDir, `expired-${crypto.randomUUID()}`);
    try {
      await Deno.mkdir(tmpDir, { recursive: true });
      await Deno.rename(path, parked);
      await syncDirectory(dirname(path));
      await Deno.remove(parked, { recursive: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw new RuntimeFailure(`Cannot remove ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

/** fsync a directory so a new entry in it is durable. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}
