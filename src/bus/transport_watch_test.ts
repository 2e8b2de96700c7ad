import assert from "node:assert/strict";
import { looksLikeTlsAlert, TLS_VERIFY_CODES } from "./transport_watch.ts";

Deno.test("transport watch: a TLS alert record is told apart from a Kafka response", () => {
  // What a Kafka 3.9 TLS listener sent back to a plaintext ApiVersions request (captured).
  assert.ok(looksLikeTlsAlert(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])));
  // A Kafka response starts with its 4-byte size: small, so the first byte is 0.
  assert.ok(!looksLikeTlsAlert(new Uint8Array([0x00, 0x00, 0x01, 0x2c, 0x00, 0x00, 0x00, 0x01])));
  assert.ok(!looksLikeTlsAlert(new Uint8Array([0x15, 0x03])));
});

Deno.test("transport watch: Node's certificate error codes are fatal, network ones are not", () => {
  for (
    const code of [
      "SELF_SIGNED_CERT_IN_CHAIN",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "CERT_HAS_EXPIRED",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
    ]
  ) assert.ok(TLS_VERIFY_CODES.test(code), code);
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"]) {
    assert.ok(!TLS_VERIFY_CODES.test(code), code);
  }
});
