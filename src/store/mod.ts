/**
 * Stage door: lake storage. A store writes objects exactly once under a key: the write either
 * creates the key with the full content or reports that the key already exists. It never
 * overwrites, so a replayed write cannot replace data a reader has already seen.
 */
import type { LoadedConfig } from "../config/mod.ts";
import type { Encoder, FileCoverage } from "../encode/mod.ts";
import { FileStore } from "./file.ts";
import { S3Store } from "./s3.ts";

export * from "./layout.ts";

export type CreateResult = "created" | "exists";

/** Small string facts about an object (its offsets), kept as S3 user metadata. */
export type FileMetadata = Readonly<Record<string, string>>;

export interface Store {
  readonly describe: string;
  /** Durably create `key` with `bytes`, or report "exists" and change nothing. */
  createOnce(key: string, bytes: Uint8Array, metadata?: FileMetadata): Promise<CreateResult>;
  read(key: string): Promise<Uint8Array>;
  /** The metadata stored with an object, if this store keeps metadata apart from the bytes. */
  metadata(key: string): Promise<FileMetadata | undefined>;
  /** All keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** The names of the folders directly under a prefix, sorted (one level, not recursive). */
  folders(prefix: string): Promise<string[]>;
  /**
   * Remove a whole folder (retention: one dt= partition), so that readers see it whole or not
   * at all. Local store only; on S3 the bucket's lifecycle rule expires objects.
   */
  removeFolder?(prefix: string): Promise<void>;
  /**
   * Remove `key`; a missing key is not an error (a rerun may repeat a delete). Only compaction
   * calls it, after the file that replaces the key is durable.
   */
  delete(key: string): Promise<void>;
}

export function createStore(config: Pick<LoadedConfig, "store">): Store {
  switch (config.store.type) {
    case "local":
      return new FileStore(config.store.path);
    case "s3":
      return new S3Store(config.store);
  }
}

/** What each object carries about itself (S3 user metadata; hyphens, see lake-and-delivery.md). */
export function fileMetadata(coverage: FileCoverage): Record<string, string> {
  return {
    "first-offset": String(coverage.firstOffset),
    "last-offset": String(coverage.lastOffset),
    "record-count": String(coverage.records),
    "first-kafka-timestamp": String(coverage.firstTimestamp),
  };
}

/** Coverage from an object's metadata, when the store keeps it and it is complete. */
function coverageFromMetadata(metadata: FileMetadata | undefined): FileCoverage | undefined {
  const values = ["first-offset", "last-offset", "record-count", "first-kafka-timestamp"].map((k) =>
    Number(metadata?.[k])
  );
  if (!values.every(Number.isSafeInteger)) return undefined;
  const [firstOffset, lastOffset, records, firstTimestamp] = values;
  return { firstOffset, lastOffset, records, firstTimestamp };
}

/** A file's offsets: the object's metadata when the store keeps it (an S3 HEAD), else the file. */
export async function readCoverage(
  store: Store,
  encoder: Encoder,
  key: string,
): Promise<FileCoverage> {
  return coverageFromMetadata(await store.metadata(key)) ??
    encoder.coverage(await store.read(key));
}
