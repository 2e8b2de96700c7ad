/**
 * The S3 store against moto_server over HTTP (started by `deno task test`; the endpoint comes
 * in CRYPTOPIPE_TEST_S3_ENDPOINT). Same conformance suite as the local folder.
 */
import assert from "node:assert/strict";
import { configSchema } from "../config/schema.ts";
import { storeConformance } from "./conformance.ts";
import { awsFailure } from "../errors.ts";
import { S3Store } from "./s3.ts";

function endpoint(): string {
  const url = Deno.env.get("CRYPTOPIPE_TEST_S3_ENDPOINT");
  if (!url) {
    throw new Error(
      "CRYPTOPIPE_TEST_S3_ENDPOINT is not set: run the tests with `deno task test`, which starts moto_server",
    );
  }
  return url;
}

/** A fresh bucket per test, created through moto's S3 API with a plain signed-less request. */
async function freshBucket(): Promise<string> {
  const bucket = `lake-${crypto.randomUUID().slice(0, 12)}`;
  const response = await fetch(`${endpoint()}/${bucket}`, { method: "PUT" });
  await response.body?.cancel();
  assert.ok(response.ok, `create bucket: HTTP ${response.status}`);
  return bucket;
}

function storeConfig(bucket: string, prefix = "", extra: Record<string, unknown> = {}) {
  return configSchema.parse({
    store: {
      type: "s3",
      bucket,
      prefix,
      region: "us-east-1",
      endpoint: endpoint(),
      force_path_style: true,
      ...extra,
    },
  }).store;
}

storeConformance("s3 via moto", async () => new S3Store(storeConfig(await freshBucket())));
storeConformance(
  "s3 via moto, with a key prefix",
  async () => new S3Store(storeConfig(await freshBucket(), "env/prod")),
);

Deno.test("s3 store: keys land under the prefix; a missing bucket is a clear runtime failure", async () => {
  const bucket = await freshBucket();
  const store = new S3Store(storeConfig(bucket, "env/prod"));
  await store.createOnce("ticker/a.jsonl", new TextEncoder().encode("x"));
  const listing = await (await fetch(`${endpoint()}/${bucket}?list-type=2`)).text();
  assert.match(listing, /<Key>env\/prod\/ticker\/a\.jsonl<\/Key>/);
  const missing = new S3Store(storeConfig("no-such-bucket-here"));
  await assert.rejects(
    () => missing.createOnce("t/a", new Uint8Array([1])),
    /Cannot write s3:\/\/no-such-bucket-here\/t\/a: NoSuchBucket/,
  );
});

Deno.test("s3 store: AWS auth errors map to exit 4, others to exit 3", () => {
  for (
    const name of ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"]
  ) {
    const error = Object.assign(new Error("denied"), { name });
    assert.equal(awsFailure("write s3://b/k", error).exitCode, 4, name);
  }
  // A 403 the SDK could not parse (moto's XML AccessDenied to a JSON service) is still exit 4.
  const unreadable = Object.assign(new SyntaxError("Unexpected token '<'"), {
    $metadata: { httpStatusCode: 403 },
  });
  const denied = awsFailure("create Glue database crypto", unreadable);
  assert.equal(denied.exitCode, 4);
  assert.equal(
    denied.message,
    "Cannot create Glue database crypto: access denied (HTTP 403, no error details in the response)",
  );
  const slow = Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown" });
  const failure = awsFailure("write s3://b/k", slow);
  assert.equal(failure.exitCode, 3);
  assert.equal(
    failure.message,
    "Cannot write s3://b/k: SlowDown: Please reduce your request rate.",
  );
});

Deno.test("s3 store: a large file goes up as a multipart upload, create-only on completion, with its offset metadata", async () => {
  const bucket = await freshBucket();
  const store = new S3Store(storeConfig(bucket, "", {
    multipart_threshold_bytes: 5 * 1024 * 1024,
    part_size_bytes: 5 * 1024 * 1024,
  }));
  const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => i % 251);
  const meta = { "first-offset": "7", "last-offset": "99", "record-count": "93" };
  assert.equal(await store.createOnce("ticker/big.parquet", big, meta), "created");
  // A second upload of the same key must fail at CompleteMultipartUpload (412), not replace it.
  const other = new Uint8Array(11 * 1024 * 1024).fill(1);
  assert.equal(await store.createOnce("ticker/big.parquet", other, meta), "exists");
  assert.deepEqual(await store.read("ticker/big.parquet"), big);
  const head = await fetch(`${endpoint()}/${bucket}/ticker/big.parquet`, { method: "HEAD" });
  assert.equal(head.headers.get("x-amz-meta-first-offset"), "7");
  assert.equal(head.headers.get("x-amz-meta-last-offset"), "99");
  assert.equal(head.headers.get("x-amz-meta-record-count"), "93");
  assert.deepEqual(await store.metadata("ticker/big.parquet"), meta, "read back by HEAD");
  assert.match(head.headers.get("etag") ?? "", /-\d+"$/, "a multipart ETag (<md5>-<parts>)");
  // No upload is left open: the failed second one was aborted.
  const uploads = await (await fetch(`${endpoint()}/${bucket}?uploads`)).text();
  assert.doesNotMatch(uploads, /<Upload>/);
});

Deno.test("s3 store: a peer that accepts and never answers fails after the request timeout instead of hanging", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // never read, never answered
  })();
  try {
    const store = new S3Store(
      configSchema.parse({
        store: {
          type: "s3",
          bucket: "stalled",
          region: "us-east-1",
          endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
          force_path_style: true,
          max_attempts: 2,
          request_timeout_ms: 300,
        },
      }).store,
    );
    const started = Date.now();
    await assert.rejects(() => store.createOnce("t/a", new Uint8Array([1])), /Cannot write/);
    assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
    assert.ok(held.length >= 2, "the attempt was retried");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
