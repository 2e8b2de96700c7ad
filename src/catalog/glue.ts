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
  BatchCreatePartitionCommand,
  type Column as GlueColumn,
  CreateDatabaseCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  type PartitionError,
  type Table,
  type TableInput,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import type { LoadedConfig } from "../config/mod.ts";
import { awsFailure, RuntimeFailure } from "../errors.ts";
import type { Column, ColumnType } from "../record/mod.ts";
import type { TimePartition } from "../store/mod.ts";
import {
  type Catalog,
  PARTITION_KEYS,
  type PartitionMode,
  type PartitionResult,
  type RegisterResult,
  type TableDefinition,
} from "./mod.ts";
import { planTable, problemSummary, type TablePlan, type TableShape } from "./plan.ts";
import { dedupViewName, dedupViewSelect, PRESTO_TYPES } from "./dedup_view.ts";

/** BatchCreatePartition takes at most 100 partitions per call. */
export const BATCH_CREATE_LIMIT = 100;

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
  options: { projectionStart: string; partitions: PartitionMode },
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
      ...(options.partitions === "projection" ? projection(location, options.projectionStart) : {}),
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

/**
 * The dedup view as an Athena view in Glue: TableType VIRTUAL_VIEW, with the view's SQL and
 * column types in base64 JSON inside `/* Presto View: … *\/` (the form Athena itself writes
 * for CREATE VIEW), and the columns with Hive types for other Glue readers.
 */
export function glueDedupViewInput(table: TableDefinition): TableInput {
  const partitionColumns = table.partitionKeys.map((k) => ({
    name: k.name,
    type: "string" as const,
  }));
  const all = [
    ...table.columns.map((c) => ({ name: c.name, type: c.type })),
    ...partitionColumns,
  ];
  const prestoView = {
    originalSql: dedupViewSelect(table),
    catalog: "awsdatacatalog",
    schema: table.database,
    columns: all.map((c) => ({ name: c.name, type: PRESTO_TYPES[c.type] })),
  };
  const encoded = btoa(
    String.fromCharCode(...new TextEncoder().encode(JSON.stringify(prestoView))),
  );
  return {
    Name: dedupViewName(table.name),
    Description:
      `${table.name}, one row per Kafka record (_kafka_topic, _kafka_partition, _kafka_offset)`,
    TableType: "VIRTUAL_VIEW",
    Parameters: { presto_view: "true", comment: "Presto View" },
    ViewOriginalText: `/* Presto View: ${encoded} */`,
    ViewExpandedText: "/* Presto View */",
    PartitionKeys: [],
    StorageDescriptor: {
      Columns: all.map((c) => ({ Name: c.name, Type: GLUE_TYPES[c.type] })),
      SerdeInfo: {},
    },
  };
}

/** Whether Glue's view already has the definition `wanted` (text, columns, type, parameters). */
export function sameView(existing: Table, wanted: TableInput): boolean {
  const columns = (
    t: { StorageDescriptor?: { Columns?: Array<{ Name?: string; Type?: string }> } },
  ) => JSON.stringify((t.StorageDescriptor?.Columns ?? []).map((c) => [c.Name, c.Type]));
  return existing.TableType === wanted.TableType &&
    existing.ViewOriginalText === wanted.ViewOriginalText &&
    existing.ViewExpandedText === wanted.ViewExpandedText &&
    (existing.Description ?? "") === (wanted.Description ?? "") &&
    Object.entries(wanted.Parameters ?? {}).every(([k, v]) => existing.Parameters?.[k] === v) &&
    columns(existing) === columns(wanted);
}

/**
 * Partition projection (lake-and-delivery.md §7.1): Athena computes the dt/hour folders from
 * these properties, so no partition is ever registered and consume needs no Glue permission.
 */
function projection(location: string, start: string): Record<string, string> {
  return {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy-MM-dd",
    "projection.dt.range": `${start},NOW`,
    "projection.dt.interval": "1",
    "projection.dt.interval.unit": "DAYS",
    "projection.hour.type": "integer",
    "projection.hour.range": "0,23",
    "projection.hour.digits": "2",
    "storage.location.template": `${location}dt=\${dt}/hour=\${hour}/`,
  };
}

function glueColumn(column: Column): GlueColumn {
  return { Name: column.name, Type: GLUE_TYPES[column.type], Comment: column.doc };
}

/** A Glue table (as read, or as the code wants it) in the catalogs' common shape. */
export function glueShape(table: Table | TableInput, code?: readonly Column[]): TableShape {
  return {
    columns: (table.StorageDescriptor?.Columns ?? []).map((c, i) => ({
      name: c.Name ?? "",
      type: c.Type ?? "",
      comment: c.Comment,
      nullable: code?.[i]?.nullable,
    })),
    partitionKeys: (table.PartitionKeys ?? []).map((k) => `${k.Name} ${k.Type}`),
    format: table.Parameters?.classification ?? "",
    location: table.StorageDescriptor?.Location ?? "",
    description: table.Description ?? "",
    properties: table.Parameters ?? {},
  };
}

export class GlueCatalog implements Catalog {
  readonly describe: string;
  /** Public so tests can observe requests with SDK middleware. */
  readonly client: GlueClient;
  readonly #database: string;
  readonly #lakeRoot: string;
  readonly #options: { projectionStart: string; partitions: PartitionMode };
  #databaseReady = false;

  constructor(catalog: GlueCatalogConfig, store: LakeStoreConfig) {
    this.#database = catalog.database;
    this.#options = { projectionStart: catalog.projection_start, partitions: catalog.partitions };
    this.#lakeRoot = `s3://${store.bucket}/${store.prefix ? `${store.prefix}/` : ""}`;
    this.describe = `AWS Glue database ${catalog.database}`;
    this.client = new GlueClient({
      ...(catalog.region ? { region: catalog.region } : {}),
      ...(catalog.endpoint ? { endpoint: catalog.endpoint } : {}),
    });
  }

  async #ensureDatabase(): Promise<void> {
    if (this.#databaseReady) return;
    try {
      await this.client.send(
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

  /** The table as Glue has it, the table as the code wants it, and what would change. */
  async #plan(table: TableDefinition) {
    // Read-only: a missing database reads as a missing table (EntityNotFound), so a dry run
    // needs only read permissions and creates nothing.
    const input = glueTableInput(table, this.#lakeRoot, this.#options);
    const name = `${this.#database}.${table.name}`;
    let existing: Table | undefined;
    try {
      existing = (await this.client.send(
        new GetTableCommand({ DatabaseName: this.#database, Name: table.name }),
      )).Table;
    } catch (error) {
      if (!(error instanceof EntityNotFoundException)) {
        throw awsFailure(`read Glue table ${name}`, error);
      }
    }
    const wanted = glueShape(input, table.columns);
    const plan = planTable(name, existing && glueShape(existing), wanted, "Glue");
    return { plan, input, existing };
  }

  async plan(table: TableDefinition): Promise<TablePlan> {
    return (await this.#plan(table)).plan;
  }

  /** The table, then its dedup view (catalog/dedup_view.ts) next to it. */
  async register(table: TableDefinition): Promise<RegisterResult> {
    const result = await this.#registerTable(table);
    await this.#registerDedupView(table);
    return result;
  }

  /**
   * Create the view, or replace it when its definition changed (views hold no data). An
   * unchanged view is left alone: catalog runs hourly, and each UpdateTable would add a Glue
   * table version; a replacement skips the archive copy for the same reason.
   */
  async #registerDedupView(table: TableDefinition): Promise<void> {
    const input = glueDedupViewInput(table);
    const name = `${this.#database}.${input.Name}`;
    let existing: Table | undefined;
    try {
      existing = (await this.client.send(
        new GetTableCommand({ DatabaseName: this.#database, Name: input.Name }),
      )).Table;
    } catch (error) {
      if (!(error instanceof EntityNotFoundException)) {
        throw awsFailure(`read Glue view ${name}`, error);
      }
    }
    if (existing && sameView(existing, input)) return;
    if (existing && existing.TableType !== "VIRTUAL_VIEW") {
      // Never replace a table's entry (e.g. one a --reread made under this name) with the view.
      throw new RuntimeFailure(
        `Glue table ${name} exists and is not a view: cannot create the dedup view; rename that table`,
      );
    }
    if (!existing) {
      try {
        await this.client.send(
          new CreateTableCommand({ DatabaseName: this.#database, TableInput: input }),
        );
        return;
      } catch (error) {
        // Another catalog run created it meanwhile: replace it below.
        if (!(error instanceof AlreadyExistsException)) {
          throw awsFailure(`create Glue view ${name}`, error);
        }
      }
    }
    try {
      await this.client.send(
        new UpdateTableCommand({
          DatabaseName: this.#database,
          TableInput: input,
          SkipArchive: true,
        }),
      );
    } catch (error) {
      throw awsFailure(`update Glue view ${name}`, error);
    }
  }

  async #registerTable(table: TableDefinition, raced = false): Promise<RegisterResult> {
    await this.#ensureDatabase();
    const { plan, input, existing } = await this.#plan(table);
    if (plan.action === "refuse") {
      throw new RuntimeFailure(
        `Glue table ${plan.table} does not match this build's schema (${table.schemaId}): ${
          problemSummary(plan)
        }. Only new nullable columns at the end are applied; for a breaking change use a new table (store.table) or drop the old one.`,
      );
    }
    if (plan.action === "unchanged") return "unchanged";
    try {
      if (plan.action === "create") {
        await this.client.send(
          new CreateTableCommand({ DatabaseName: this.#database, TableInput: input }),
        );
        return "created";
      }
      // UpdateTable replaces the whole TableInput; VersionId guards against a concurrent edit.
      await this.client.send(
        new UpdateTableCommand({
          DatabaseName: this.#database,
          TableInput: input,
          VersionId: existing?.VersionId,
        }),
      );
      return "updated";
    } catch (error) {
      // Another catalog run created the table between our read and our create: compare again.
      if (error instanceof AlreadyExistsException && !raced) {
        return this.#registerTable(table, true);
      }
      throw awsFailure(`register Glue table ${plan.table}`, error);
    }
  }

  /**
   * catalog.partitions = "register": add the given dt/hour partitions with
   * BatchCreatePartition, 100 per call (Glue's limit). A partition that already exists counts
   * as registered, so a run on a timer only adds the new hours.
   */
  async registerPartitions(
    table: TableDefinition,
    partitions: readonly TimePartition[],
  ): Promise<PartitionResult> {
    const input = glueTableInput(table, this.#lakeRoot, this.#options);
    const name = `${this.#database}.${table.name}`;
    const result = { created: 0, existing: 0 };
    const failed: string[] = [];
    for (let i = 0; i < partitions.length; i += BATCH_CREATE_LIMIT) {
      const chunk = partitions.slice(i, i + BATCH_CREATE_LIMIT);
      let errors: PartitionError[];
      try {
        ({ Errors: errors = [] } = await this.client.send(
          new BatchCreatePartitionCommand({
            DatabaseName: this.#database,
            TableName: table.name,
            PartitionInputList: chunk.map((part) => ({
              Values: [part.dt, part.hour],
              StorageDescriptor: {
                ...input.StorageDescriptor,
                Location: `${input.StorageDescriptor!.Location}dt=${part.dt}/hour=${part.hour}/`,
              },
            })),
          }),
        ));
      } catch (error) {
        throw awsFailure(`register partitions of Glue table ${name}`, error);
      }
      for (const error of errors) {
        if (error.ErrorDetail?.ErrorCode === "AlreadyExistsException") result.existing++;
        else {
          failed.push(
            `dt=${error.PartitionValues?.[0]}/hour=${
              error.PartitionValues?.[1]
            }: ${error.ErrorDetail?.ErrorCode} ${error.ErrorDetail?.ErrorMessage ?? ""}`.trim(),
          );
        }
      }
      result.created += chunk.length - errors.length;
    }
    if (failed.length > 0) {
      throw new RuntimeFailure(
        `Glue refused ${failed.length} partition(s) of ${name}: ${failed.slice(0, 3).join("; ")}${
          failed.length > 3 ? "; ..." : ""
        }`,
      );
    }
    return result;
  }

  async tables(): Promise<TableDefinition[]> {
    const result: TableDefinition[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new GetTablesCommand({ DatabaseName: this.#database, NextToken: token }),
        );
        for (const table of page.TableList ?? []) {
          // Views (the dedup views) are not lake tables.
          if (table.TableType !== "VIRTUAL_VIEW") result.push(this.#definition(table));
        }
        token = page.NextToken;
      } while (token);
    } catch (error) {
      if (error instanceof EntityNotFoundException) return [];
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
