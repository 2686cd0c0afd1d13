/**
 * The HTTP/2 upstream transport against real servers on loopback: the engine's test server over
 * h2c and TLS (ALPN h2), an HTTP/1.1-only TLS server for `protocol: h2` (refused) and `auto`
 * (falls back), streams beyond the server's concurrency limit, refused streams sent again,
 * GOAWAY, trailers both ways, deadlines and cancellation seen by the server, health probes.
 */
import assert from "node:assert/strict";
import type { ServerRef, Service } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { UpstreamError, type UpstreamRequest, type UpstreamResponse } from "../proto/exchange.ts";
import { ErrorCode } from "../proto/h2/errors.ts";
import type { H2Request } from "../proto/h2/server.ts";
import { HeaderList } from "../proto/header_list.ts";
import { testPki } from "../testing/certs.ts";
import { h2TestServer, routes } from "../testing/h2_server.ts";
import { rawResponse } from "../testing/servers.ts";
import { waitFor } from "../testing/servers.ts";
import { transportFor } from "./transport_for.ts";
import type { HttpTransport } from "./transport.ts";

function service(protocol: Service["httpProtocol"], caPem: string | null): Service {
  return {
    name: "svc",
    protocol: "http",
    servers: [],
    balancing: "round_robin",
    healthCheck: null,
    passiveHealth: null,
    tls: { caPem, caFile: null, serverName: "localhost", insecureSkipVerify: false },
    host: "preserve",
    retries: 0,
    keepAlive: { maxIdlePerServer: 4, idleTimeout: 10_000 },
    httpProtocol: protocol,
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
}

function transport(
  url: string,
  protocol: Service["httpProtocol"] = "http/1.1",
  caPem: string | null = null,
): HttpTransport {
  const u = new URL(url.replace(/^h2c:/, "http:"));
  const scheme = url.startsWith("h2c:") ? "h2c" : u.protocol === "https:" ? "https" : "http";
  const ref: ServerRef = {
    url,
    scheme,
    hostname: u.hostname,
    port: Number(u.port),
    path: null,
    weight: 1,
  };
  const deps = { registry: new ConnectionRegistry(), connectTimeoutMs: () => 2000 };
  return transportFor(ref, service(protocol, caPem), deps) as HttpTransport;
}

const OPTIONS = {
  responseHeaderMs: 5000,
  bodyIdleMs: 5000,
  maxHeaderBytes: 65536,
  signal: new AbortController().signal,
  replayable: () => true,
};

function request(method: string, target: string, extra: Partial<UpstreamRequest> = {}) {
  return { method, target, host: "app.test", headers: new HeaderList(), body: null, ...extra };
}

async function text(res: UpstreamResponse): Promise<string> {
  let out = "";
  for (let c = await res.body?.read(); c; c = await res.body!.read()) {
    out += new TextDecoder().decode(c);
  }
  return out;
}

function bytesBody(s: string) {
  const bytes = new TextEncoder().encode(s);
  let done = false;
  return {
    length: bytes.length,
    read: () => Promise.resolve(done ? null : (done = true, bytes)),
    cancel() {},
  };
}

Deno.test("h2c:// and https:// with protocol h2 reuse one connection for many requests", async () => {
  await using h2c = await h2TestServer({ tls: false });
  const t = transport(`h2c://127.0.0.1:${h2c.port}`);
  for (let i = 0; i < 3; i++) {
    const res = await t.exchange(request("GET", "/"), OPTIONS);
    assert.deepEqual([res.status, res.version, await text(res)], [
      200,
      "2",
      "hello from gatehouse h2\n",
    ]);
  }
  assert.equal(h2c.accepted, 1);
  assert.deepEqual(t.connections(), { open: 1, idle: 1 });
  t.close();

  await using tls = await h2TestServer({ tls: true });
  const s = transport(`https://127.0.0.1:${tls.port}`, "h2", tls.caPem);
  const res = await s.exchange(request("GET", "/"), OPTIONS);
  assert.deepEqual([res.status, res.version], [200, "2"]);
  await text(res);
  s.close();
});

Deno.test("more requests than the server's stream limit open more connections, none fails", async () => {
  await using server = await h2TestServer({ tls: false, engine: { maxConcurrentStreams: 4 } });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  const results = await Promise.all(
    Array.from({ length: 24 }, async () => {
      const res = await t.exchange(request("GET", "/bytes/100000"), OPTIONS);
      return (await text(res)).length;
    }),
  );
  assert.ok(results.every((n) => n === 100000));
  assert.equal(server.stats.refusedStreams, 0);
  assert.ok(server.accepted >= 2, `${server.accepted} connection(s)`);
  t.close();
});

Deno.test("a refused stream is sent again on another connection; GOAWAY retires a connection", async () => {
  let refused = 0;
  await using server = await h2TestServer({
    tls: false,
    onRequest(req) {
      if (req.path === "/refuse-once" && refused++ === 0) {
        return req.reset(ErrorCode.REFUSED_STREAM);
      }
      routes(req);
    },
  });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  const res = await t.exchange(request("GET", "/refuse-once"), OPTIONS);
  assert.equal(res.status, 200);
  await text(res);
  assert.equal(refused, 2);
  // The server shuts its connections down (GOAWAY): the next request goes on a new one.
  const before = server.accepted;
  for (const c of server.connections) void c.shutdown();
  await waitFor(() => server.connections.size === 0, "the server's connections to close", 5000);
  const again = await t.exchange(request("GET", "/"), OPTIONS);
  assert.equal(again.status, 200);
  await text(again);
  assert.equal(server.accepted, before + 1);
  // Not replayable (its body was read): the refusal is the answer, as not sent.
  refused = 0;
  await assert.rejects(
    () => t.exchange(request("GET", "/refuse-once"), { ...OPTIONS, replayable: () => false }),
    (err) => err instanceof UpstreamError && err.kind === "reset" && !err.requestSent,
  );
  t.close();
});

Deno.test("request trailers reach the server and response trailers come back", async () => {
  await using server = await h2TestServer({ tls: false });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  const res = await t.exchange(
    request("POST", "/echo", {
      headers: HeaderList.from([["content-type", "application/grpc"]]),
      body: bytesBody("payload"),
      trailers: () => Promise.resolve(HeaderList.from([["x-sum", "7"]])),
    }),
    OPTIONS,
  );
  assert.equal(await text(res), "payload");
  assert.deepEqual((await res.trailers!())?.entries(), [["x-sum", "7"]]);
  t.close();
});

Deno.test("a response-head deadline and a client that goes away both cancel the stream upstream", async () => {
  const seen: H2Request[] = [];
  await using server = await h2TestServer({
    tls: false,
    onRequest(req) {
      seen.push(req);
      if (req.path === "/slow-body") {
        void req.respond({
          status: 200,
          body: { length: -1, read: () => new Promise(() => {}), cancel() {} },
        })
          .catch(() => {});
      }
    },
  });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  await assert.rejects(
    () => t.exchange(request("GET", "/never"), { ...OPTIONS, responseHeaderMs: 200 }),
    (err) => err instanceof UpstreamError && err.kind === "timeout",
  );
  await waitFor(() => seen[0]?.closed === true, "the server to see the stream cancelled");
  const client = new AbortController();
  const res = await t.exchange(request("GET", "/slow-body"), { ...OPTIONS, signal: client.signal });
  assert.equal(res.status, 200);
  client.abort(new Error("client gone"));
  await waitFor(() => seen[1]?.closed === true, "the server to see the cancel");
  t.close();
});

Deno.test("a body that stops for longer than bodyIdleMs fails and resets the stream, after the transport closed too", async () => {
  const seen: H2Request[] = [];
  await using server = await h2TestServer({
    tls: false,
    onRequest(req) {
      seen.push(req);
      // One chunk at once, then nothing.
      let sent = false;
      const read = () =>
        sent ? new Promise<null>(() => {}) : (sent = true, Promise.resolve(Uint8Array.of(1)));
      void req.respond({ status: 200, body: { length: -1, read, cancel() {} } }).catch(() => {});
    },
  });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  const res = await t.exchange(request("GET", "/stalls"), { ...OPTIONS, bodyIdleMs: 300 });
  assert.deepEqual(await res.body!.read(), Uint8Array.of(1));
  // As a reload that drops the server does: the stream in flight keeps its deadline.
  t.close();
  const stillWaiting = new Error("the body read still waits 5 s later");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => timer = setTimeout(reject, 5000, stillWaiting));
  await assert.rejects(
    () => Promise.race([res.body!.read(), bound]).finally(() => clearTimeout(timer)),
    (err) => err !== stillWaiting,
  );
  await waitFor(() => seen[0]?.closed === true, "the server to see the stream cancelled");
});

Deno.test("https: protocol h2 refuses an HTTP/1.1-only server; protocol auto falls back to it", async () => {
  const pki = await testPki();
  const { certPem, keyPem } = await pki.leaf("localhost");
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: certPem,
    key: keyPem,
    alpnProtocols: ["http/1.1"],
  });
  const serving = (async () => {
    for await (const conn of listener) {
      void (async () => {
        const buf = new Uint8Array(4096);
        while ((await conn.read(buf).catch(() => null)) !== null) {
          await conn.write(rawResponse(200, [], "h1 here")).catch(() => {});
        }
        conn.close();
      })();
    }
  })();
  const url = `https://127.0.0.1:${listener.addr.port}`;
  const h2 = transport(url, "h2", pki.caPem);
  await assert.rejects(
    () => h2.exchange(request("GET", "/"), OPTIONS),
    (err) =>
      err instanceof UpstreamError && err.kind === "connect" &&
      /did not agree to HTTP\/2 by ALPN \(it offers no h2\); set protocol: auto/.test(err.message),
  );
  const auto = transport(url, "auto", pki.caPem);
  for (let i = 0; i < 2; i++) {
    const res = await auto.exchange(request("GET", "/"), OPTIONS);
    assert.deepEqual([res.status, res.version, await text(res)], [200, "1.1", "h1 here"]);
  }
  const probe = await auto.probe(
    {
      path: "/",
      grpcService: null,
      interval: 1000,
      timeout: 500,
      healthyThreshold: 1,
      unhealthyThreshold: 1,
      expectStatus: [200, 299],
      send: null,
    },
    AbortSignal.timeout(2000),
  );
  assert.equal(probe.ok, true);
  h2.close();
  auto.close();
  listener.close();
  await serving.catch(() => {});
});

Deno.test("health probes speak HTTP/2 on a connection of their own", async () => {
  await using server = await h2TestServer({ tls: false });
  const t = transport(`h2c://127.0.0.1:${server.port}`);
  const check = {
    path: "/status/503",
    grpcService: null,
    interval: 1000,
    timeout: 500,
    healthyThreshold: 1,
    unhealthyThreshold: 1,
    expectStatus: [200, 299] as const,
    send: null,
  };
  assert.deepEqual(await t.probe(check, AbortSignal.timeout(2000)), {
    ok: false,
    detail: "status 503 (h2)",
  });
  assert.equal(
    (await t.probe({ ...check, path: "/" }, AbortSignal.timeout(2000))).ok,
    true,
  );
  await waitFor(() => server.connections.size === 0, "the probe connections to close");
  t.close();
});
