/**
 * Securing the S3 lake, against moto_server over HTTP: server-side encryption (SSE-S3, SSE-KMS
 * with a key made in moto's KMS) read back with HeadObject from an independent S3 client, for
 * the store's single and multipart writes and for a real consume run; `ExpectedBucketOwner` on
 * every call the store makes, captured by SDK middleware because moto does not enforce it;
 * Athena's result encryption and owner; and the config rules (https only, account ids, keys).
 */
import assert from "node:assert/strict";
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { GetQueryExecutionCommand, ListQueryExecutionsCommand } from "@aws-sdk/client-athena";
import { configSchema, validateConfig } from "../src/config/schema.ts";
import { silentLogger } from "../src/log.ts";
import { AthenaEngine } from "../src/query/athena.ts";
import { S3Store } from "../src/store/s3.ts";
import {
  AWS_TEST_ENV,
  baseToml,
  cli,
  freshBucket,
  testS3Endpoint,
  uniqueName,
  workspace,
} from "./helpers.ts";

const OWNER = "123456789012"; // moto's default account

/** A customer-managed key in moto's KMS (unsigned JSON call; the scope routes it to KMS). */
async function motoKmsKey(): Promise<string> {
  const response = await fetch(`${testS3Endpoint()}/`, {
    method: "POST",
    headers: {
      "X-Amz-Target": "TrentService.CreateKey",
      "Content-Type": "application/x-amz-json-1.1",
      Authorization:
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: JSON.stringify({ Description: "cryptopipe lake test key" }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).KeyMetadata.Arn;
}

/** An S3 client of the test's own, without the store's middleware, to read what S3 stored. */
function independentS3(): S3Client {
  return new S3Client({ endpoint: testS3Endpoint(), region: "us-east-1", forcePathStyle: true });
}

function s3Store(bucket: string, extra: Record<string, unknown> = {}): S3Store {
  return new S3Store(
    configSchema.parse({
      store: {
        type: "s3",
        bucket,
        region: "us-east-1",
        endpoint: testS3Endpoint(),
        force_path_style: true,
        multipart_threshold_bytes: 5 * 1024 * 1024,
        part_size_bytes: 5 * 1024 * 1024,
        ...extra,
      },
    }).store,
  );
}

const SMALL = new TextEncoder().encode("small file\n");
const BIG = new Uint8Array(6 * 1024 * 1024).map((_, i) => i % 253); // two parts

Deno.test("s3 security: SSE-S3 and SSE-KMS with a key id are stored and returned by HeadObject, for single and multipart writes", async () => {
  const keyArn = await motoKmsKey();
  const s3 = independentS3();
  try {
    const cases: Array<[Record<string, unknown>, string, string | undefined]> = [
      [{ sse: "AES256" }, "AES256", undefined],
      [{ sse: "aws:kms", kms_key_id: keyArn }, "aws:kms", keyArn],
    ];
    for (const [settings, algorithm, kmsKey] of cases) {
      const bucket = await freshBucket();
      const store = s3Store(bucket, settings);
      assert.equal(await store.createOnce("ticker/small.jsonl", SMALL), "created");
      assert.equal(await store.createOnce("ticker/big.parquet", BIG), "created");
      for (const key of ["ticker/small.jsonl", "ticker/big.parquet"]) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(head.ServerSideEncryption, algorithm, `${algorithm} ${key}`);
        assert.equal(head.SSEKMSKeyId, kmsKey, `${algorithm} ${key}`);
      }
      assert.deepEqual(await store.read("ticker/big.parquet"), BIG);
    }
    // Without `sse` nothing is asked for (the bucket default applies): the check above can fail.
    const bucket = await freshBucket();
    await s3Store(bucket).createOnce("ticker/plain.jsonl", SMALL);
    const plain = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "ticker/plain.jsonl" }),
    );
    assert.equal(plain.ServerSideEncryption, undefined);
  } finally {
    s3.destroy();
  }
});

interface Captured {
  readonly command: string;
  readonly owner: string | undefined;
  readonly sse: string | undefined;
}

/** Records every HTTP request the client sends (after retries and signing): SDK middleware. */
function captureRequests(client: S3Client): Captured[] {
  const captured: Captured[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      const headers = (args.request as { headers: Record<string, string> }).headers;
      captured.push({
        command: context.commandName ?? "?",
        owner: headers["x-amz-expected-bucket-owner"],
        sse: headers["x-amz-server-side-encryption"],
      });
      return next(args);
    },
    { step: "deserialize", name: "testCaptureRequests" },
  );
  return captured;
}

/**
 * Every kind of call the store makes: single put, multipart (and its abort), HEAD, GET, lists,
 * and compaction's delete.
 */
async function everyCallKind(store: S3Store): Promise<void> {
  assert.equal(await store.createOnce("ticker/dt=2026-11-25/hour=00/a.jsonl", SMALL), "created");
  assert.equal(await store.createOnce("ticker/dt=2026-11-25/hour=00/b.parquet", BIG), "created");
  // The same key again: CompleteMultipartUpload answers 412 and the upload is aborted.
  assert.equal(await store.createOnce("ticker/dt=2026-11-25/hour=00/b.parquet", BIG), "exists");
  assert.equal(await store.createOnce("ticker/dt=2026-11-25/hour=00/a.jsonl", SMALL), "exists");
  await store.metadata("ticker/dt=2026-11-25/hour=00/a.jsonl");
  await store.read("ticker/dt=2026-11-25/hour=00/a.jsonl");
  assert.equal((await store.list("ticker")).length, 2);
  assert.deepEqual(await store.folders("ticker"), ["dt=2026-11-25"]);
  await store.delete("ticker/dt=2026-11-25/hour=00/a.jsonl");
  assert.deepEqual(await store.list("ticker"), ["ticker/dt=2026-11-25/hour=00/b.parquet"]);
}

const ALL_KINDS = [
  "AbortMultipartUploadCommand",
  "CompleteMultipartUploadCommand",
  "CreateMultipartUploadCommand",
  "DeleteObjectCommand",
  "GetObjectCommand",
  "HeadObjectCommand",
  "ListObjectsV2Command",
  "PutObjectCommand",
  "UploadPartCommand",
];

Deno.test("s3 security: x-amz-expected-bucket-owner is on every request the store sends, captured by SDK middleware (moto does not enforce it)", async () => {
  const store = s3Store(await freshBucket(), {
    expected_bucket_owner: OWNER,
    sse: "aws:kms",
    kms_key_id: await motoKmsKey(),
  });
  const captured = captureRequests(store.client);
  await everyCallKind(store);
  assert.deepEqual([...new Set(captured.map((c) => c.command))].sort(), ALL_KINDS);
  for (const request of captured) assert.equal(request.owner, OWNER, request.command);
  // SSE goes where S3 takes it: the single PUT and the creation of a multipart upload.
  for (const request of captured) {
    const carries = ["PutObjectCommand", "CreateMultipartUploadCommand"].includes(request.command);
    assert.equal(request.sse, carries ? "aws:kms" : undefined, request.command);
  }

  // Unset, no header is sent (the check above can fail), and moto accepts a wrong owner, which
  // is why this is proven on the request and not by a refusal.
  const plain = s3Store(await freshBucket());
  const plainCaptured = captureRequests(plain.client);
  await everyCallKind(plain);
  assert.deepEqual(plainCaptured.filter((c) => c.owner !== undefined), []);
  const wrong = s3Store(await freshBucket(), { expected_bucket_owner: "210987654321" });
  assert.equal(await wrong.createOnce("ticker/x.jsonl", SMALL), "created", "moto ignores it");
});

Deno.test("s3 security: a consume run writes every lake file with SSE-KMS and its key id, sending the expected bucket owner", async () => {
  const bucket = await freshBucket();
  const keyArn = await motoKmsKey();
  const topic = uniqueName("sse");
  const { config } = await workspace(
    baseToml(
      topic,
      uniqueName("group"),
      `
[sources.sim]
type = "simulated"
rate_per_second = 100000

[batch]
max_records = 200
max_age_secs = 1
until_idle_secs = 1.5
`,
    ).replace(
      /\[store\]\npath = "\{lake\}"\n/,
      `[store]
type = "s3"
bucket = "${bucket}"
prefix = "lake"
endpoint = "${testS3Endpoint()}"
force_path_style = true
sse = "aws:kms"
kms_key_id = "${keyArn}"
expected_bucket_owner = "${OWNER}"
`,
    ),
  );
  const produced = await cli(["--mode", "produce", "--config", config, "--max-records", "500"]);
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await cli(
    ["--mode", "consume", "--config", config, "--until-idle"],
    AWS_TEST_ENV,
  );
  assert.equal(consumed.code, 0, consumed.stderr);
  const s3 = independentS3();
  try {
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "lake/" }));
    const keys = (listing.Contents ?? []).map((o) => o.Key!);
    assert.ok(keys.filter((k) => k.endsWith(".parquet")).length >= 3, keys.join(" "));
    for (const key of keys) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ServerSideEncryption, "aws:kms", key);
      assert.equal(head.SSEKMSKeyId, keyArn, key);
    }
  } finally {
    s3.destroy();
  }
});

Deno.test("s3 security: Athena is asked to encrypt results with SSE-KMS and check the results bucket owner (moto stores the ResultConfiguration)", async () => {
  const config = configSchema.parse({
    query: {
      engine: "athena",
      endpoint: testS3Endpoint(),
      region: "us-east-1",
      output_location: "s3://athena-results/secure/",
      output_encryption: "SSE_KMS",
      output_kms_key: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      output_bucket_owner: OWNER,
    },
  });
  const engine = new AthenaEngine(config.query, "cryptopipe", silentLogger, { pollMs: [20, 50] });
  try {
    const before = new Set(
      (await engine.client.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds ?? [],
    );
    await engine.run("SELECT 1");
    const ids = (await engine.client.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds ??
      [];
    const id = ids.find((i) => !before.has(i));
    assert.ok(id, "the query was started");
    const execution = await engine.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const { OutputLocation, ...stored } = execution.QueryExecution?.ResultConfiguration ?? {};
    assert.equal(OutputLocation, `s3://athena-results/secure/${id}.csv`);
    assert.deepEqual(stored, {
      EncryptionConfiguration: {
        EncryptionOption: "SSE_KMS",
        KmsKey: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      },
      ExpectedBucketOwner: OWNER,
    });
  } finally {
    engine.close();
  }
});

Deno.test("s3 security: config refuses plain http to a remote endpoint, bad account ids and misplaced KMS keys, naming the key", () => {
  const problem = (raw: unknown): string => {
    const result = validateConfig(raw);
    if (result.ok) throw new Error(`accepted: ${JSON.stringify(raw)}`);
    const issue = result.issues[0];
    return `${issue.path.join(".")}: ${issue.message}`;
  };
  const s3 = { type: "s3", bucket: "my-lake" };
  const https = /must be https:\/\/ \(http:\/\/ only for 127\.0\.0\.1, localhost or \[::1\]\)/;
  for (const section of ["store", "catalog", "query"]) {
    const base = section === "store" ? s3 : {};
    assert.match(
      problem({ [section]: { ...base, endpoint: "http://s3.example.com" } }),
      new RegExp(`^${section}\\.endpoint: ${https.source}`),
    );
    for (const loopback of ["http://127.0.0.1:5000", "http://localhost:9000", "http://[::1]:1"]) {
      assert.ok(validateConfig({ [section]: { ...base, endpoint: loopback } }).ok, loopback);
    }
    assert.ok(validateConfig({ [section]: { ...base, endpoint: "https://x.example.com" } }).ok);
  }
  assert.match(
    problem({ store: { ...s3, expected_bucket_owner: "12345" } }),
    /^store\.expected_bucket_owner: must be a 12-digit AWS account id in quotes/,
  );
  assert.match(
    problem({ store: { ...s3, expected_bucket_owner: 123456789012 } }),
    /^store\.expected_bucket_owner: must be a 12-digit AWS account id in quotes/,
  );
  assert.match(
    problem({ store: { ...s3, sse: "AES256", kms_key_id: "alias/lake" } }),
    /^store\.kms_key_id: only with sse = "aws:kms"/,
  );
  assert.match(problem({ store: { ...s3, sse: "aes256" } }), /^store\.sse: /);
  assert.match(
    problem({ store: { ...s3, sse: "aws:kms", kms_key_id: "my key" } }),
    /^store\.kms_key_id: must be a KMS key id, key ARN, alias\/name or alias ARN/,
  );
  for (
    const key of [
      "alias/lake",
      "1234abcd-12ab-34cd-56ef-1234567890ab",
      "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      "arn:aws:kms:eu-west-1:111122223333:alias/lake",
    ]
  ) {
    assert.ok(validateConfig({ store: { ...s3, sse: "aws:kms", kms_key_id: key } }).ok, key);
  }
  assert.match(
    problem({ query: { output_encryption: "SSE_KMS" } }),
    /^query\.output_kms_key: required with output_encryption = "SSE_KMS"/,
  );
  assert.match(
    problem({ query: { output_encryption: "SSE_S3", output_kms_key: "alias/x" } }),
    /^query\.output_kms_key: required with output_encryption = "SSE_KMS", and only with it/,
  );
  assert.match(
    problem({ query: { output_bucket_owner: "abc" } }),
    /^query\.output_bucket_owner: must be a 12-digit/,
  );
});

Deno.test("s3 security: a bad security key exits 2 with one line naming it", async () => {
  const { config } = await workspace(`
[store]
type = "s3"
bucket = "my-lake"
endpoint = "http://s3.example.com"
`);
  const result = await cli(["--mode", "consume", "--config", config]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, /store\.endpoint: must be https:\/\//);
});

Deno.test("s3 security (SDK middleware stub: moto does not enforce ExpectedBucketOwner): a bucket owned by another account is refused with exit 4, naming expected_bucket_owner", async () => {
  const actualOwner = "999999999999";
  /** Answers like S3 does when x-amz-expected-bucket-owner is not the bucket's owner. */
  const ownedBy = (store: S3Store) =>
    store.client.middlewareStack.add(
      (next) => (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        const expected = headers["x-amz-expected-bucket-owner"];
        if (expected === undefined || expected === actualOwner) return next(args);
        return Promise.resolve({
          output: undefined as never,
          response: {
            statusCode: 403,
            headers: { "content-type": "application/xml" },
            body: new TextEncoder().encode(
              `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`,
            ),
          },
        });
      },
      { step: "deserialize", name: "testBucketOwnedByAnotherAccount", priority: "low" },
    );
  const bucket = await freshBucket();
  const wrong = s3Store(bucket, { expected_bucket_owner: OWNER });
  ownedBy(wrong);
  const error = await wrong.createOnce("ticker/a.jsonl", SMALL).then(
    () => assert.fail("the write went through"),
    (e) => e,
  );
  assert.equal(error.exitCode, 4);
  assert.equal(
    error.message,
    `Cannot write s3://${bucket}/ticker/a.jsonl: AccessDenied: Access Denied (needs s3:PutObject on arn:aws:s3:::${bucket}/ticker/a.jsonl, and the bucket must be owned by account ${OWNER} (store.expected_bucket_owner))`,
  );
  // The right owner goes through the same stub to moto.
  const right = s3Store(bucket, { expected_bucket_owner: actualOwner });
  ownedBy(right);
  assert.equal(await right.createOnce("ticker/a.jsonl", SMALL), "created");
});
