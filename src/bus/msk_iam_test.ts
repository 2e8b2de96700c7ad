import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import { awsMskTokenSigner, mskIamTokenProvider } from "./msk_iam.ts";

function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger("debug", "json", {}, (line) => lines.push(line)), lines };
}

Deno.test("MSK IAM token provider (stub signer): kafkajs gets {value: token}, the log never sees it", async () => {
  const token = "stub-token-3f9a2c";
  const calls: Array<{ region: string }> = [];
  const { logger, lines } = capturingLogger();
  const provider = mskIamTokenProvider("eu-west-1", logger, (options) => {
    calls.push(options);
    return Promise.resolve({ token, expiryTime: Date.parse("2030-01-01T00:15:00Z") });
  });
  assert.deepEqual(await provider(), { value: token });
  assert.deepEqual(await provider(), { value: token });
  // Once per connection kafkajs authenticates: no cached token outliving its 15 minutes.
  assert.deepEqual(calls, [{ region: "eu-west-1" }, { region: "eu-west-1" }]);
  assert.ok(lines.length > 0, "the provider logs that it signed (without the token)");
  assert.ok(lines.every((line) => !line.includes(token)), lines.join("\n"));
  assert.match(lines[0], /2030-01-01T00:15:00/);
});

Deno.test("MSK IAM token provider (stub signer): a signing failure is an auth failure (exit 4) naming the region", async () => {
  const { logger } = capturingLogger();
  const provider = mskIamTokenProvider(
    "us-east-2",
    logger,
    () => Promise.reject(new Error("Could not load credentials from any providers")),
  );
  const error = await provider().then(() => undefined, (e) => e);
  assert.equal(error?.exitCode, EXIT.auth);
  assert.match(error.message, /us-east-2: Could not load credentials from any providers/);
  assert.match(error.message, /AWS default chain/);
});

Deno.test("MSK IAM: AWS's signer with the default chain (keys from the environment) makes a kafka-cluster:Connect token offline", async () => {
  // SigV4 presigning is local: no AWS endpoint is called. Fixed fake keys, as for moto.
  const saved = new Map(
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"].map((
      k,
    ) => [k, Deno.env.get(k)]),
  );
  Deno.env.set("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETESTING");
  Deno.env.set("AWS_SECRET_ACCESS_KEY", "testing-secret");
  Deno.env.delete("AWS_SESSION_TOKEN");
  Deno.env.delete("AWS_PROFILE");
  try {
    const { logger, lines } = capturingLogger();
    const { value } = await mskIamTokenProvider("eu-west-1", logger, awsMskTokenSigner)();
    const url = new URL(atob(value.replaceAll("-", "+").replaceAll("_", "/")));
    assert.equal(url.host, "kafka.eu-west-1.amazonaws.com");
    assert.equal(url.searchParams.get("Action"), "kafka-cluster:Connect");
    assert.match(
      url.searchParams.get("X-Amz-Credential") ?? "",
      /^AKIDEXAMPLETESTING\/\d{8}\/eu-west-1\/kafka-cluster\//,
    );
    assert.match(url.searchParams.get("X-Amz-Signature") ?? "", /^[0-9a-f]{64}$/);
    assert.ok(lines.every((line) => !line.includes(value) && !line.includes("X-Amz")));
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
});
