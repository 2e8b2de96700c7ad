/**
 * The fault proxy itself, against a tiny upstream that records what reached it: clean requests
 * arrive unchanged, and each fault kind does what it says.
 */
import assert from "node:assert/strict";
import { type FaultKind, startFaultProxy } from "./fault_proxy.ts";

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** An upstream that records every request and answers 201 with a body and custom headers. */
async function withUpstream(
  test: (upstream: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    seen.push({
      method: request.method,
      path: url.pathname + url.search,
      headers: request.headers,
      body: new Uint8Array(await request.arrayBuffer()),
    });
    const headers = { etag: '"abc"', "x-amz-request-id": "UP1", "content-length": "14" };
    return new Response(request.method === "HEAD" ? null : "upstream body\n", {
      status: 201,
      headers,
    });
  });
  try {
    await test(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`, seen);
  } finally {
    await server.shutdown();
  }
}

function proxyWith(upstream: string, first: FaultKind[], methods?: string[]) {
  return startFaultProxy({ upstream, seed: 1, first, methods, latencyMs: 300 });
}

Deno.test("fault proxy: without faults, method, path, query, headers and body go through both ways", async () => {
  await withUpstream(async (upstream, seen) => {
    const proxy = proxyWith(upstream, []);
    try {
      const body = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
      const response = await fetch(`${proxy.url}/bucket/a%2Fb.parquet?x-id=PutObject&a=1`, {
        method: "PUT",
        headers: { "x-amz-meta-first-offset": "42", "if-none-match": "*" },
        body,
      });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("etag"), '"abc"');
      assert.equal(response.headers.get("x-amz-request-id"), "UP1");
      assert.equal(await response.text(), "upstream body\n");
      assert.equal(seen.length, 1);
      assert.equal(seen[0].method, "PUT");
      assert.equal(seen[0].path, "/bucket/a%2Fb.parquet?x-id=PutObject&a=1");
      assert.equal(seen[0].headers.get("x-amz-meta-first-offset"), "42");
      assert.equal(seen[0].headers.get("if-none-match"), "*");
      // The Host the client signed for (the proxy's) reaches the upstream unchanged.
      assert.equal(seen[0].headers.get("host"), new URL(proxy.url).host);
      assert.equal(seen[0].headers.get("content-length"), String(body.byteLength));
      assert.deepEqual(seen[0].body, body);

      const head = await fetch(`${proxy.url}/bucket/k`, { method: "HEAD" });
      await head.body?.cancel();
      assert.equal(head.status, 201);
      assert.equal(head.headers.get("content-length"), "14", "HEAD keeps the object's length");
      assert.deepEqual(proxy.injected, { status500: 0, slowdown503: 0, reset: 0, latency: 0 });
      assert.deepEqual(proxy.requests, { total: 2, eligible: 1 });
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("fault proxy: status500 and slowdown503 answer S3 errors without reaching the upstream", async () => {
  await withUpstream(async (upstream, seen) => {
    const proxy = proxyWith(upstream, ["status500", "slowdown503"]);
    try {
      const internal = await fetch(`${proxy.url}/b/k`, { method: "PUT", body: "x" });
      assert.equal(internal.status, 500);
      assert.match(await internal.text(), /<Code>InternalError<\/Code>/);
      const slow = await fetch(`${proxy.url}/b/k`, { method: "POST", body: "x" });
      assert.equal(slow.status, 503);
      assert.equal(slow.headers.get("retry-after"), "1");
      assert.match(await slow.text(), /<Code>SlowDown<\/Code>/);
      assert.equal(seen.length, 0, "nothing was forwarded");
      assert.equal(proxy.injected.status500, 1);
      assert.equal(proxy.injected.slowdown503, 1);
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("fault proxy: reset forwards the request, then breaks the response mid-body", async () => {
  await withUpstream(async (upstream, seen) => {
    const proxy = proxyWith(upstream, ["reset", "reset"], ["PUT", "GET"]);
    try {
      for (const method of ["PUT", "GET"]) {
        await assert.rejects(async () => {
          const response = await fetch(`${proxy.url}/b/k`, {
            method,
            body: method === "PUT" ? "written" : undefined,
          });
          await response.arrayBuffer();
        }, `${method}: the client sees a broken connection`);
      }
      assert.deepEqual(seen.map((s) => s.method), ["PUT", "GET"], "the upstream did the work");
      assert.equal(new TextDecoder().decode(seen[0].body), "written");
      assert.equal(proxy.injected.reset, 2);
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("fault proxy: latency delays, only chosen methods are faulted, and a seed repeats its plan", async () => {
  await withUpstream(async (upstream, seen) => {
    const proxy = proxyWith(upstream, ["latency"]);
    try {
      const start = Date.now();
      const response = await fetch(`${proxy.url}/b/k`, { method: "PUT", body: "x" });
      assert.equal(await response.text(), "upstream body\n");
      assert.ok(Date.now() - start >= 290, `took ${Date.now() - start} ms`);
      assert.equal(proxy.injected.latency, 1);
      proxy.setRates({ status500: 1 });
      const get = await fetch(`${proxy.url}/b/k`);
      assert.equal(get.status, 201, "GET is not in methods: never faulted");
      await get.body?.cancel();
      assert.equal(seen.length, 2);
    } finally {
      await proxy.close();
    }
  });

  // Same seed, same sequence of faults (sequential requests).
  const plan = async (seed: number) => {
    const statuses: number[] = [];
    await withUpstream(async (upstream) => {
      const proxy = startFaultProxy({
        upstream,
        seed,
        rates: { status500: 0.3, slowdown503: 0.3 },
      });
      try {
        for (let i = 0; i < 30; i++) {
          const response = await fetch(`${proxy.url}/b/k${i}`, { method: "PUT", body: "x" });
          await response.body?.cancel();
          statuses.push(response.status);
        }
      } finally {
        await proxy.close();
      }
    });
    return statuses.join(",");
  };
  const a = await plan(7);
  assert.equal(await plan(7), a);
  assert.notEqual(await plan(8), a);
  for (const status of ["201", "500", "503"]) assert.ok(a.includes(status), a);
});
