/**
 * The S3 store, the only file that imports the S3 client. Write-once by a conditional put
 * (`If-None-Match: *`): S3 refuses with 412 when the key exists, which is the same contract
 * the local store gets from link(2). Credentials come from the AWS default chain only.
 * Optional hardening from `[store]`: server-side encryption on every write (`sse`,
 * `kms_key_id`) and `ExpectedBucketOwner` on every call (`expected_bucket_owner`).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { LoadedConfig } from "../config/mod.ts";
import { AuthFailure, awsFailure, type CryptopipeError, RuntimeFailure } from "../errors.ts";
import { isPlainKey } from "./layout.ts";
import type { CreateResult, FileMetadata, Store } from "./mod.ts";

type S3StoreConfig = LoadedConfig["store"];

export class S3Store implements Store {
  readonly describe: string;
  /** Public so tests can watch requests with SDK middleware. */
  readonly client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #multipartThreshold: number;
  readonly #partSize: number;
  readonly #encryption: { ServerSideEncryption?: "AES256" | "aws:kms"; SSEKMSKeyId?: string };
  readonly #owner: string | undefined;

  constructor(config: S3StoreConfig) {
    this.#multipartThreshold = config.multipart_threshold_bytes;
    this.#partSize = config.part_size_bytes;
    this.#bucket = config.bucket!;
    this.#prefix = config.prefix ? `${config.prefix}/` : "";
    this.describe = `s3://${this.#bucket}/${this.#prefix}`;
    this.client = new S3Client({
      ...(config.region ? { region: config.region } : {}),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.force_path_style,
      // Standard retry mode: 5xx, SlowDown, throttling and resets back off and retry.
      maxAttempts: config.max_attempts,
      // Without timeouts a peer that accepts and never answers hangs consume for good; with
      // them a stalled request fails, is retried, and in the end exits 3 for systemd.
      requestHandler: {
        connectionTimeout: config.connect_timeout_ms,
        requestTimeout: config.request_timeout_ms,
        // Without this the handler only warns on a timeout and keeps waiting.
        throwOnRequestTimeout: true,
      },
    });
    // SSE goes on PutObject and CreateMultipartUpload (lib-storage copies the params there);
    // the other multipart calls take none.
    this.#encryption = {
      ...(config.sse ? { ServerSideEncryption: config.sse } : {}),
      ...(config.kms_key_id ? { SSEKMSKeyId: config.kms_key_id } : {}),
    };
    this.#owner = config.expected_bucket_owner;
    const owner = this.#owner;
    if (owner) {
      // On every command this client sends, lib-storage's UploadPart, Complete and Abort
      // included (Abort is built without the caller's params): S3 answers 403 when another
      // account owns the bucket, so a typo'd or hijacked bucket name never receives lake data.
      this.client.middlewareStack.add(
        (next) => (args) => {
          (args.input as { ExpectedBucketOwner?: string }).ExpectedBucketOwner ??= owner;
          return next(args);
        },
        { step: "initialize", name: "cryptopipeExpectedBucketOwner" },
      );
    }
  }

  /**
   * An AWS failure as one line; a permission failure also names the IAM action and resource
   * the call needs, so the operator can fix the policy without reading CloudTrail.
   */
  #failure(what: string, iamAction: string, resource: string, error: unknown): CryptopipeError {
    const failure = awsFailure(what, error);
    if (!(failure instanceof AuthFailure)) return failure;
    const owner = this.#owner
      ? `, and the bucket must be owned by account ${this.#owner} (store.expected_bucket_owner)`
      : "";
    const key = this.#encryption.SSEKMSKeyId ?? "the aws/s3 key";
    const kms = this.#encryption.ServerSideEncryption !== "aws:kms"
      ? ""
      : iamAction.startsWith("s3:PutObject")
      ? `, plus kms:GenerateDataKey and kms:Decrypt on ${key}`
      : iamAction === "s3:GetObject"
      ? `, plus kms:Decrypt on ${key}`
      : "";
    return new AuthFailure(
      `${failure.message} (needs ${iamAction} on ${resource}${kms}${owner})`,
      { cause: error },
    );
  }

  #objectArn(fullKey: string): string {
    return `arn:aws:s3:::${this.#bucket}/${fullKey}`;
  }

  #key(key: string): string {
    if (!isPlainKey(key)) {
      throw new RuntimeFailure(
        `Cannot use lake key ${JSON.stringify(key)}: not a plain relative path`,
      );
    }
    return this.#prefix + key;
  }

  #url(key: string): string {
    return `s3://${this.#bucket}/${key}`;
  }

  async createOnce(key: string, bytes: Uint8Array, metadata?: FileMetadata): Promise<CreateResult> {
    const fullKey = this.#key(key);
    // If-None-Match: * on the single PUT, and on CompleteMultipartUpload for large files: the
    // object appears whole or not at all, and never replaces one a reader may have seen.
    const params = {
      Bucket: this.#bucket,
      Key: fullKey,
      Body: bytes,
      IfNoneMatch: "*",
      Metadata: metadata ? { ...metadata } : undefined,
      ...this.#encryption,
    };
    for (let conflicts = 0;; conflicts++) {
      try {
        if (bytes.byteLength < this.#multipartThreshold) {
          await this.client.send(new PutObjectCommand(params));
        } else {
          // Parts of a failed upload are aborted (leavePartsOnError false); a crash mid-upload
          // leaves parts that the bucket's AbortIncompleteMultipartUpload rule removes.
          await new Upload({
            client: this.client,
            params,
            partSize: this.#partSize,
            queueSize: 2,
            leavePartsOnError: false,
          }).done();
        }
        return "created";
      } catch (error) {
        const status = (error as S3ServiceException)?.$metadata?.httpStatusCode;
        // 412: the key exists.
        if (status === 412) return "exists";
        // 409 ConditionalRequestConflict: a concurrent write of the same key is in flight and
        // may still fail, so the key may not exist yet: wait, then ask again.
        if (status === 409 && conflicts < 5) {
          await new Promise((r) => setTimeout(r, 500 * 2 ** conflicts));
          continue;
        }
        throw this.#failure(
          `write ${this.#url(fullKey)}`,
          bytes.byteLength < this.#multipartThreshold
            ? "s3:PutObject"
            : "s3:PutObject and s3:AbortMultipartUpload",
          this.#objectArn(fullKey),
          error,
        );
      }
    }
  }

  async metadata(key: string): Promise<FileMetadata | undefined> {
    const fullKey = this.#key(key);
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: fullKey }),
      );
      return head.Metadata;
    } catch (error) {
      throw this.#failure(
        `read the metadata of ${this.#url(fullKey)}`,
        "s3:GetObject",
        this.#objectArn(fullKey),
        error,
      );
    }
  }

  async read(key: string): Promise<Uint8Array> {
    const fullKey = this.#key(key);
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: fullKey }),
      );
      return await object.Body!.transformToByteArray();
    } catch (error) {
      throw this.#failure(
        `read ${this.#url(fullKey)}`,
        "s3:GetObject",
        this.#objectArn(fullKey),
        error,
      );
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.#listing(prefix, false)) {
      for (const object of page.Contents ?? []) keys.push(object.Key!.slice(this.#prefix.length));
    }
    return keys.sort();
  }

  /** S3 answers 204 for a missing key too, so a repeated delete is harmless. */
  async delete(key: string): Promise<void> {
    const fullKey = this.#key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: fullKey }));
    } catch (error) {
      throw this.#failure(
        `delete ${this.#url(fullKey)}`,
        "s3:DeleteObject",
        this.#objectArn(fullKey),
        error,
      );
    }
  }

  async folders(prefix: string): Promise<string[]> {
    // A delimiter listing returns one CommonPrefix per sub-folder: one request per 1000
    // folders, however many objects they hold.
    const names: string[] = [];
    for await (const page of this.#listing(prefix, true)) {
      for (const common of page.CommonPrefixes ?? []) {
        names.push(common.Prefix!.split("/").at(-2)!);
      }
    }
    return names.sort();
  }

  /** Every page of a ListObjectsV2 of the folder `prefix`, optionally one level deep. */
  async *#listing(prefix: string, oneLevel: boolean) {
    const folder = this.#key(prefix.replace(/\/+$/, "")) + "/";
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: folder,
            ContinuationToken: token,
            ...(oneLevel ? { Delimiter: "/" } : {}),
          }),
        );
        yield page;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.#failure(
        `list ${this.#url(folder)}`,
        `s3:ListBucket (s3:prefix ${folder})`,
        `arn:aws:s3:::${this.#bucket}`,
        error,
      );
    }
  }
}
