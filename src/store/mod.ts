/**
 * Stage door: lake storage. A store writes objects exactly once under a key: the write either
 * creates the key with the full content or reports that the key already exists. It never
 * overwrites, so a replayed write cannot replace data a reader has already seen.
 */
import type { LoadedConfig } from "../config/mod.ts";
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
