/**
 * The local catalog: one JSON manifest per table in <lake>/_catalog/<database>/, which the
 * DuckDB engine turns into views. Manifests are replaced atomically (write + rename), since
 * unlike lake files they are meant to change.
 */
import { join } from "node:path";
import { RuntimeFailure } from "../errors.ts";
import type { Catalog, RegisterResult, TableDefinition } from "./mod.ts";

export const CATALOG_DIR = "_catalog";

export class LocalCatalog implements Catalog {
  readonly describe: string;
  readonly dir: string;

  constructor(readonly lakeRoot: string, readonly database: string) {
    this.dir = join(lakeRoot, CATALOG_DIR, database);
    this.describe = `local catalog ${this.dir}`;
  }

  async register(table: TableDefinition): Promise<RegisterResult> {
    const path = join(this.dir, `${table.name}.json`);
    const text = JSON.stringify(table, null, 2) + "\n";
    let previous: string | undefined;
    try {
      previous = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw this.#failure(path, error);
    }
    if (previous === text) return "unchanged";
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, path);
    } catch (error) {
      throw this.#failure(path, error);
    }
    return previous === undefined ? "created" : "updated";
  }

  async tables(): Promise<TableDefinition[]> {
    const result: TableDefinition[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (entry.isFile && entry.name.endsWith(".json")) {
          result.push(JSON.parse(await Deno.readTextFile(join(this.dir, entry.name))));
        }
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw this.#failure(this.dir, error);
    }
    return result.sort((a, b) => a.name.localeCompare(b.name));
  }

  #failure(path: string, error: unknown): RuntimeFailure {
    return new RuntimeFailure(`Cannot update catalog ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
