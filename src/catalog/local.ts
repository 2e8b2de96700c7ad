/**
 * The local catalog: one JSON manifest per table in <lake>/_catalog/<database>/, which the
 * DuckDB engine turns into views. Manifests are replaced atomically (write + rename), since
 * unlike lake files they are meant to change. Changes follow Glue's rule (plan.ts): a
 * breaking one is refused here too, so a schema problem shows up locally first.
 */
import { join } from "node:path";
import { RuntimeFailure } from "../errors.ts";
import type { Catalog, RegisterResult, TableDefinition } from "./mod.ts";
import { planTable, problemSummary, type TablePlan, type TableShape } from "./plan.ts";

function localShape(table: TableDefinition): TableShape {
  return {
    columns: table.columns.map((c) => ({
      name: c.name,
      type: c.type,
      comment: c.doc,
      nullable: c.nullable,
    })),
    partitionKeys: table.partitionKeys.map((k) => `${k.name} string`),
    format: table.format,
    location: table.location,
    description: table.description,
    properties: { schema: table.schemaId },
  };
}

export const CATALOG_DIR = "_catalog";

export class LocalCatalog implements Catalog {
  readonly describe: string;
  readonly dir: string;

  constructor(readonly lakeRoot: string, readonly database: string) {
    this.dir = join(lakeRoot, CATALOG_DIR, database);
    this.describe = `local catalog ${this.dir}`;
  }

  async #read(path: string): Promise<TableDefinition | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw this.#failure(path, error);
    }
  }

  #path(table: TableDefinition): string {
    return join(this.dir, `${table.name}.json`);
  }

  async plan(table: TableDefinition): Promise<TablePlan> {
    const previous = await this.#read(this.#path(table));
    return planTable(
      `${this.database}.${table.name}`,
      previous && localShape(previous),
      localShape(table),
      "the local catalog",
    );
  }

  async register(table: TableDefinition): Promise<RegisterResult> {
    const plan = await this.plan(table);
    if (plan.action === "refuse") {
      throw new RuntimeFailure(
        `Local table ${plan.table} (${this.dir}) does not match this build's schema (${table.schemaId}): ${
          problemSummary(plan)
        }. Only new nullable columns at the end are applied; for a breaking change use a new table (store.table) or a new lake folder.`,
      );
    }
    if (plan.action === "unchanged") return "unchanged";
    const path = this.#path(table);
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      await Deno.writeTextFile(tmp, JSON.stringify(table, null, 2) + "\n");
      await Deno.rename(tmp, path);
    } catch (error) {
      throw this.#failure(path, error);
    }
    return plan.action === "create" ? "created" : "updated";
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
