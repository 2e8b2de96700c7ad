/**
 * The AWS Glue catalog, the only file that imports the Glue client. Tables are created from the
 * record schema with partition projection (lake-and-delivery.md §7.1), so Athena finds every
 * dt/hour folder without a crawler, MSCK REPAIR or per-partition registration, and consume
 * needs no Glue permission at all.
 *
 * Registration is idempotent. A schema change is applied only when it is safe for readers of
 * existing files (new nullable columns at the end); anything else is refused with the
 * difference, since a breaking change belongs in a new table.
 */
import {
  AlreadyExistsException,
  type Column as GlueColumn,
  CreateDatabaseCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  type Table,
  type TableInput,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import type { LoadedConfig } from "../config/mod.ts";
import { awsFailure, RuntimeFailure } from "../errors.ts";
import type { Column, ColumnType } from "../record/mod.ts";
import { type Catalog, PARTITION_KEYS, type RegisterResult, type TableDefinition } from "./mod.ts";

export const GLUE_TYPES: Record<ColumnType, string> = {
  string: "string",
  float64: "double",
  int64: "bigint",
  int32: "int",
};

const FORMATS = {
  parquet: {
    classification: "parquet",
    inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    serde: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    serdeParameters: { "serialization.format": "1" },
  },
  jsonl: {
    classification: "json",
    inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
    outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    serde: "org.openx.data.jsonserde.JsonSerDe",
    serdeParameters: { "ignore.malformed.json": "false", "case.insensitive": "false" },
  },
} as const;

type GlueCatalogConfig = LoadedConfig["catalog"];
type LakeStoreConfig = LoadedConfig["store"];

/** The Glue TableInput for a lake table: columns, formats, location and projection. */
export function glueTableInput(
  table: TableDefinition,
  lakeRoot: string,
  projectionStart: string,
): TableInput {
  const format = FORMATS[table.format];
  const location = `${lakeRoot}${table.location}/`;
  return {
    Name: table.name,
    Description: table.description,
    TableType: "EXTERNAL_TABLE",
    Parameters: {
      EXTERNAL: "TRUE",
      classification: format.classification,
      "cryptopipe.schema": table.schemaId,
      "projection.enabled": "true",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
      "projection.dt.range": `${projectionStart},NOW`,
      "projection.dt.interval": "1",
      "projection.dt.interval.unit": "DAYS",
      "projection.hour.type": "integer",
      "projection.hour.range": "0,23",
      "projection.hour.digits": "2",
      "storage.location.template": `${location}dt=\${dt}/hour=\${hour}/`,
    },
    PartitionKeys: PARTITION_KEYS.map((key) => ({
      Name: key.name,
      Type: "string",
      Comment: key.doc,
    })),
    StorageDescriptor: {
      Columns: table.columns.map(glueColumn),
      Location: location,
      InputFormat: format.inputFormat,
      OutputFormat: format.outputFormat,
      SerdeInfo: {
        SerializationLibrary: format.serde,
        Parameters: { ...format.serdeParameters },
      },
    },
  };
}

function glueColumn(column: Column): GlueColumn {
  return { Name: column.name, Type: GLUE_TYPES[column.type], Comment: column.doc };
}

/**
 * How the code's table differs from Glue's: "same", "safe" (only new nullable columns appended
 * at the end, or only table properties changed) or a list of breaking differences. `columns`
 * are the code's, for nullability, which Glue does not record.
 */
export function schemaChange(
  existing: Table,
  wanted: TableInput,
  columns: readonly Column[],
): { kind: "same" | "safe" } | { kind: "breaking"; problems: string[] } {
  const have = existing.StorageDescriptor?.Columns ?? [];
  const want = wanted.StorageDescriptor?.Columns ?? [];
  const problems: string[] = [];
  const required = columns.slice(have.length).filter((c) => !c.nullable).map((c) => c.name);
  if (required.length > 0) {
    problems.push(`new columns ${required.join(", ")} are not nullable (old files lack them)`);
  }
  for (let i = 0; i < have.length; i++) {
    const mine = want[i];
    if (!mine) problems.push(`column ${have[i].Name} is in Glue but no longer in the code`);
    else if (mine.Name !== have[i].Name || mine.Type !== have[i].Type) {
      problems.push(
        `column ${i + 1} is ${have[i].Name} ${
          have[i].Type
        } in Glue, ${mine.Name} ${mine.Type} in the code`,
      );
    }
  }
  const haveKeys = (existing.PartitionKeys ?? []).map((k) => `${k.Name} ${k.Type}`).join(", ");
  const wantKeys = (wanted.PartitionKeys ?? []).map((k) => `${k.Name} ${k.Type}`).join(", ");
  if (haveKeys !== wantKeys) {
    problems.push(`partition keys are (${haveKeys}) in Glue, (${wantKeys}) in the code`);
  }
  const haveClass = existing.Parameters?.classification;
  const wantClass = wanted.Parameters?.classification;
  if (haveClass !== wantClass) {
    problems.push(`format is ${haveClass} in Glue, ${wantClass} in the code`);
  }
  if (problems.length > 0) return { kind: "breaking", problems };
  const sameColumns = have.length === want.length &&
    have.every((c, i) => c.Comment === want[i].Comment);
  const sameRest = JSON.stringify(existing.Parameters ?? {}) ===
      JSON.stringify(wanted.Parameters ?? {}) &&
    existing.StorageDescriptor?.Location === wanted.StorageDescriptor?.Location &&
    existing.Description === wanted.Description;
  return { kind: sameColumns && sameRest ? "same" : "safe" };
}

export class GlueCatalog implements Catalog {
  readonly describe: string;
  readonly #client: GlueClient;
  readonly #database: string;
  readonly #lakeRoot: string;
  readonly #projectionStart: string;
  #databaseReady = false;

  constructor(catalog: GlueCatalogConfig, store: LakeStoreConfig) {
    this.#database = catalog.database;
    this.#projectionStart = catalog.projection_start;
    this.#lakeRoot = `s3://${store.bucket}/${store.prefix ? `${store.prefix}/` : ""}`;
    this.describe = `AWS Glue database ${catalog.database}`;
    this.#client = new GlueClient({
      ...(catalog.region ? { region: catalog.region } : {}),
      ...(catalog.endpoint ? { endpoint: catalog.endpoint } : {}),
    });
  }

  async #ensureDatabase(): Promise<void> {
    if (this.#databaseReady) return;
    try {
      await this.#client.send(
        new CreateDatabaseCommand({
          DatabaseInput: {
            Name: this.#database,
            Description: "cryptopipe market-data lake",
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof AlreadyExistsException)) {
        throw awsFailure(`create Glue database ${this.#database}`, error);
      }
    }
    this.#databaseReady = true;
  }

  async register(table: TableDefinition): Promise<RegisterResult> {
    await this.#ensureDatabase();
    const input = glueTableInput(table, this.#lakeRoot, this.#projectionStart);
    const name = `${this.#database}.${table.name}`;
    let existing: Table | undefined;
    try {
      existing = (await this.#client.send(
        new GetTableCommand({ DatabaseName: this.#database, Name: table.name }),
      )).Table;
    } catch (error) {
      if (!(error instanceof EntityNotFoundException)) {
        throw awsFailure(`read Glue table ${name}`, error);
      }
    }
    try {
      if (!existing) {
        await this.#client.send(
          new CreateTableCommand({ DatabaseName: this.#database, TableInput: input }),
        );
        return "created";
      }
      const change = schemaChange(existing, input, table.columns);
      if (change.kind === "breaking") {
        throw new RuntimeFailure(
          `Glue table ${name} does not match this build's schema (${table.schemaId}): ${
            change.problems.join("; ")
          }. Only new nullable columns at the end are applied; for a breaking change use a new table (store.table) or drop the old one.`,
        );
      }
      if (change.kind === "same") return "unchanged";
      // UpdateTable replaces the whole TableInput; VersionId guards against a concurrent edit.
      await this.#client.send(
        new UpdateTableCommand({
          DatabaseName: this.#database,
          TableInput: input,
          VersionId: existing.VersionId,
        }),
      );
      return "updated";
    } catch (error) {
      if (error instanceof RuntimeFailure) throw error;
      throw awsFailure(`register Glue table ${name}`, error);
    }
  }

  async tables(): Promise<TableDefinition[]> {
    await this.#ensureDatabase();
    const result: TableDefinition[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new GetTablesCommand({ DatabaseName: this.#database, NextToken: token }),
        );
        for (const table of page.TableList ?? []) result.push(this.#definition(table));
        token = page.NextToken;
      } while (token);
    } catch (error) {
      throw awsFailure(`list Glue tables of ${this.#database}`, error);
    }
    return result.sort((a, b) => a.name.localeCompare(b.name));
  }

  #definition(table: Table): TableDefinition {
    const typeOf = Object.fromEntries(
      Object.entries(GLUE_TYPES).map(([ours, glue]) => [glue, ours]),
    ) as Record<string, ColumnType>;
    const location = table.StorageDescriptor?.Location ?? "";
    return {
      database: this.#database,
      name: table.Name ?? "",
      description: table.Description ?? "",
      schemaId: table.Parameters?.["cryptopipe.schema"] ?? "",
      format: table.Parameters?.classification === "json" ? "jsonl" : "parquet",
      location: location.startsWith(this.#lakeRoot)
        ? location.slice(this.#lakeRoot.length).replace(/\/$/, "")
        : location,
      columns: (table.StorageDescriptor?.Columns ?? []).map((c) => ({
        name: c.Name ?? "",
        type: typeOf[c.Type ?? ""] ?? "string",
        nullable: true,
        doc: c.Comment ?? "",
      })),
      partitionKeys: PARTITION_KEYS,
    };
  }
}
