/**
 * A loopback proxy in front of moto_server for S3 under IAM enforcement, working around a moto
 * bug: moto recomputes a request's SigV4 signature over the URL as werkzeug rebuilt it, with
 * percent escapes decoded (`dt%3D…` becomes `dt=…`, `%2B` becomes `+`, a query's `%2F` becomes
 * `/`), so every signed request for a lake key (`dt=…/hour=…/topic+0+….parquet`) or a folder
 * listing fails with SignatureDoesNotMatch, policies never reached (getmoto/moto#5948).
 *
 * The proxy first checks the client's signature the AWS way (over the URL as sent), with the
 * secret of the access key; only a request that verifies is re-signed the way moto will
 * recompute it, with the same key, and forwarded. A wrong secret stays wrong, so moto still
 * refuses it; moto still checks the action and resource against the user's policies.
 */

const encoder = new TextEncoder();

async function hmac(key: Uint8Array, data: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(data)));
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

async function sha256Hex(text: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
}

interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string | null): Authorization | undefined {
  const m = value?.match(
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/,
  );
  if (!m) return undefined;
  return {
    accessKeyId: m[1],
    date: m[2],
    region: m[3],
    service: m[4],
    signedHeaders: m[5].split(";"),
    signature: m[6],
  };
}

/** SigV4 over a given path and raw query, as botocore builds it from a URL. */
async function sign(
  method: string,
  path: string,
  query: string,
  headers: Headers,
  auth: Authorization,
  secret: string,
): Promise<string> {
  const pairs = query === "" ? [] : query.split("&").map((p) => {
    const i = p.indexOf("=");
    return i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
  });
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const canonical = [
    method,
    path,
    pairs.map(([k, v]) => `${k}=${v}`).join("&"),
    auth.signedHeaders.map((h) => `${h}:${(headers.get(h) ?? "").trim().split(/\s+/).join(" ")}`)
      .join("\n") + "\n",
    auth.signedHeaders.join(";"),
    headers.get("x-amz-content-sha256") ?? "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    headers.get("x-amz-date") ?? "",
    scope,
    await sha256Hex(canonical),
  ].join("\n");
  let key: Uint8Array = encoder.encode(`AWS4${secret}`);
  for (const part of [auth.date, auth.region, auth.service, "aws4_request"]) {
    key = await hmac(key, part);
  }
  return hex(await hmac(key, toSign));
}

const ALWAYS_QUOTED = new Set([
  ..."%\x7f",
  ...Array.from({ length: 0x21 }, (_, i) => String.fromCharCode(i)),
]);

/** A path as moto sees it: fully decoded, then werkzeug's uri_to_iri quoting. */
function motoPath(path: string): string {
  return [...decodeURIComponent(path)].map((c) =>
    ALWAYS_QUOTED.has(c) || c === "?" || c === "#" ? encodeURIComponent(c) : c
  ).join("");
}

/** A query as moto sees it: escapes decoded except controls, space, % & = + #. */
function motoQuery(query: string): string {
  return query.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const c = String.fromCharCode(parseInt(escape.slice(1), 16));
    return ALWAYS_QUOTED.has(c) || "&=+#".includes(c) || c > "\x7f" ? escape : c;
  });
}

export interface SigningProxy {
  readonly url: string;
  /** Requests re-signed for moto, and requests forwarded untouched (not verifiable). */
  readonly counts: { resigned: number; untouched: number };
  close(): Promise<void>;
}

/** Start the proxy; `secrets` maps access key ids to their secrets (the test's IAM users). */
export function startSigningProxy(upstream: string, secrets: Map<string, string>): SigningProxy {
  const target = new URL(upstream);
  const counts = { resigned: 0, untouched: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const body = ["GET", "HEAD"].includes(req.method) ? undefined : await req.bytes();
    const headers = new Headers(req.headers);
    const auth = parseAuthorization(headers.get("authorization"));
    const secret = auth && secrets.get(auth.accessKeyId);
    const query = url.search.slice(1);
    if (
      auth && secret &&
      await sign(req.method, url.pathname, query, headers, auth, secret) === auth.signature
    ) {
      headers.set("host", target.host);
      const signature = await sign(
        req.method,
        motoPath(url.pathname),
        motoQuery(query),
        headers,
        auth,
        secret,
      );
      headers.set(
        "authorization",
        headers.get("authorization")!.replace(/Signature=[0-9a-f]+$/, `Signature=${signature}`),
      );
      counts.resigned++;
    } else {
      counts.untouched++;
    }
    headers.delete("host");
    headers.delete("content-length");
    const response = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body,
    });
    // A 204 (DeleteObject's answer) or 304 must have a null body, or Deno answers 500 instead.
    const noBody = req.method === "HEAD" || [204, 205, 304].includes(response.status);
    if (noBody) await response.body?.cancel();
    return new Response(noBody ? null : await response.arrayBuffer(), {
      status: response.status,
      headers: response.headers,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    counts,
    close: () => server.shutdown(),
  };
}
