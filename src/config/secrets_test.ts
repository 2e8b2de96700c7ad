import assert from "node:assert/strict";
import { format } from "node:util";
import { createLogger } from "../log.ts";
import { redact, resolveSecret, Secret } from "./secrets.ts";

const VALUE = "SENTINEL-unit-7f3a";

Deno.test("secrets: a Secret shows only [redacted] however it is printed or serialized", () => {
  const secret = new Secret(VALUE, "env:CRYPTOPIPE_X");
  const holder = { nested: { secret }, list: [secret] };
  const renderings = [
    String(secret),
    `${secret}`,
    "" + secret,
    JSON.stringify(holder),
    Deno.inspect(holder, { depth: 10, showHidden: true }),
    format("%o %s %j", holder, secret, holder),
    Object.keys(secret).join(","),
    JSON.stringify(structuredClone({ ...secret })),
  ];
  for (const text of renderings) assert.ok(!text.includes(VALUE), text);
  assert.match(JSON.stringify(holder), /\[redacted\]/);
  assert.equal(secret.reveal(), VALUE, "reveal() is the one way to the value");
  assert.equal(secret.origin, "env:CRYPTOPIPE_X");
});

Deno.test("secrets: redact blanks out known values, signed URLs, auth headers and key=value forms", () => {
  new Secret("known-value-1234");
  const cases: Array<[string, string]> = [
    ["connect failed: known-value-1234 rejected", "known-value-1234"],
    [
      "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261125&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=tok123",
      "AKIAEXAMPLE",
    ],
    ["X-Amz-Signature=abcdef0123", "abcdef0123"],
    ["x-amz-security-token=tok123", "tok123"],
    ["Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ffff", "AKIA"],
    ['{"authorization":"Apikey s3cr3tkey"}', "s3cr3tkey"],
    ["x-cg-demo-api-key: CG-secretkey", "CG-secretkey"],
    ["https://min-api.cryptocompare.com/data?fsyms=BTC&api_key=abcd1234", "abcd1234"],
    ['{"password":"hunter2hunter2"}', "hunter2hunter2"],
    ["session_token=tok-abc&x=1", "tok-abc"],
    ["https://user:pa55word@broker:9092/", "pa55word"],
  ];
  for (const [text, secret] of cases) {
    const out = redact(text);
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    assert.match(out, /\[redacted\]/);
  }
  // Config errors name keys as "key: problem": they stay readable.
  const configError = "Invalid config c.toml: sources.x.api_key: a literal secret is not allowed";
  assert.equal(redact(configError), configError);
  assert.equal(redact("price=42 symbol=BTC-USD"), "price=42 symbol=BTC-USD");
});

Deno.test("secrets: every log line is redacted, text and json", () => {
  new Secret("logged-secret-5678");
  for (const format of ["text", "json"] as const) {
    const lines: string[] = [];
    const logger = createLogger("debug", format, {}, (line) => lines.push(line));
    logger.error("failed with logged-secret-5678", {
      url: "https://x/?X-Amz-Signature=deadbeef",
      detail: "Authorization: Bearer abc.def",
    });
    const text = lines.join("\n");
    for (const leak of ["logged-secret-5678", "deadbeef", "abc.def"]) {
      assert.ok(!text.includes(leak), `${format}: ${text}`);
    }
  }
});

Deno.test("secrets: a secret file others can read is reported (like ~/.pgpass), a private one is not", () => {
  const warnings: string[] = [];
  const environment = (mode: number) => ({
    env: () => undefined,
    readTextFile: () => "file-secret\n",
    fileMode: () => mode,
    warn: (message: string) => warnings.push(message),
  });
  const section = { password_file: "/run/pw" };
  const secret = resolveSecret(section, "password", "bus.sasl", "c.toml", environment(0o100600));
  assert.equal(secret.reveal(), "file-secret");
  assert.equal(secret.origin, "file:/run/pw");
  assert.deepEqual(warnings, []);
  resolveSecret(section, "password", "bus.sasl", "c.toml", environment(0o100644));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /bus\.sasl\.password_file: \/run\/pw is readable by others \(mode 644\)/,
  );
});
