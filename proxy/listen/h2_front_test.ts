/**
 * HTTP/2 on Gatehouse's own engine, through real clients: curl over TLS (ALPN h2) and over h2c
 * with prior knowledge on a plain entrypoint (which keeps serving HTTP/1.1 on the same port, and
 * never takes `Upgrade: h2c`), h2load with many streams per connection, nghttp; the deadlines of
 * a plain connection that starts like the preface and stops; and malformed requests counted and
 * logged.
 */
import assert from "node:assert/strict";
import { connect, proxyFor, startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { curl, h2load, nghttp } from "../testing/h2_tools.ts";
import { readResponse } from "../testing/wire.ts";
import { h2Head, h2Raw } from "../testing/h2_raw.ts";
import { captureLog, logText } from "../testing/logs.ts";

Deno.test("curl: h2 over TLS, h2c with prior knowledge and HTTP/1.1 on the same plain port", async () => {
  await using up = httpUpstream((req) =>
    new Response(`${req.method} ${new URL(req.url).pathname}`)
  );
  await using gw = await proxyFor([up.url]);
  const tls = await curl([
    "--http2",
    "--cacert",
    gw.certs.caCertPath,
    `https://localhost:${gw.port("websecure")}/tls`,
  ]);
  assert.deepEqual([tls.status, tls.version, tls.body], [200, "2", "GET /tls"]);
  const h2c = await curl(["--http2-prior-knowledge", `http://127.0.0.1:${gw.port("web")}/h2c`]);
  assert.deepEqual([h2c.status, h2c.version, h2c.body], [200, "2", "GET /h2c"]);
  const h1 = await curl(["--http1.1", `http://127.0.0.1:${gw.port("web")}/h1`]);
  assert.deepEqual([h1.status, h1.version, h1.body], [200, "1.1", "GET /h1"]);
  const h2cRecord = gw.outcomes.find((o) => o.target === "/h2c");
  assert.equal(h2cRecord?.protocol, "HTTP/2");
  assert.equal(up.requests.find((r) => r.target === "/h2c")?.headers.get("via"), "2 gatehouse");
});

Deno.test("Upgrade: h2c is never taken: the request is answered over HTTP/1.1", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  // curl --http2 on an http:// URL offers Upgrade: h2c with HTTP2-Settings.
  const res = await curl(["--http2", `http://127.0.0.1:${gw.port("web")}/`]);
  assert.deepEqual([res.status, res.version], [200, "1.1"]);
  assert.equal(up.requests[0].headers.get("upgrade"), null);
  assert.equal(up.requests[0].headers.get("http2-settings"), null);
});

Deno.test("h2load: 4000 requests on 8 connections of 25 streams each, over TLS and h2c, none failed", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  for (
    const url of [
      `https://127.0.0.1:${gw.port("websecure")}/load`,
      `http://127.0.0.1:${gw.port("web")}/load`,
    ]
  ) {
    const load = await h2load(url, { requests: 4000, clients: 8, streams: 25 });
    assert.equal(load.failed + load.errored + load.timeout, 0, load.output);
    assert.equal(load.status2xx, 4000, load.output);
  }
});

Deno.test("nghttp over h2c: the response and the server's SETTINGS", async () => {
  await using up = httpUpstream(() => new Response("from upstream"));
  await using gw = await proxyFor([up.url]);
  const out = await nghttp(`http://127.0.0.1:${gw.port("web")}/n`);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /recv SETTINGS frame/);
  assert.match(out.stdout, /SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):100/);
  assert.match(out.stdout, /:status: 200/);
  assert.match(out.stdout, /from upstream/);
});

Deno.test("a plain connection that stops in the middle of the preface is closed at the header-read deadline", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url], { config: "timeouts: { header_read: 300ms }\n" });
  using c = await connect(gw.port("web"));
  await c.send("PRI * HTTP/2.0\r\n");
  await waitFor(() => gw.runtime.clients.size === 0, "the connection to be closed", 5000);
  // HTTP/1.1 on the same port is not held up by it.
  using h1 = await connect(gw.port("web"));
  await h1.send("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
  assert.equal((await readResponse(h1.reader)).status, 200);
});

Deno.test("malformed HTTP/2 requests are reset, logged and counted", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  await using logs = await captureLog("http2");
  const result = await h2Raw(gw.port("websecure"), gw.certs.caCertPath, [
    { headers: h2Head([["X-Upper", "1"]]) },
    { headers: h2Head() },
  ]);
  assert.equal(result.responses[0].reset, "PROTOCOL_ERROR");
  assert.equal(result.responses[1].status, 200);
  const counters = [...gw.runtime.http2Counters()].find((c) => c.entrypoint === "websecure");
  assert.equal(counters?.counters.malformedMessages, 1);
  const lines = () => logs.records.map(logText);
  await waitFor(() => lines().some((l) => l.includes("X-Upper")), "the log line");
  assert.match(
    lines().find((l) => l.includes("X-Upper"))!,
    /HTTP\/2 client 127\.0\.0\.1:\d+ on websecure: Cannot continue HTTP\/2 stream 1: malformed request: invalid field name "X-Upper"/,
  );
});

Deno.test("h2c: only serves HTTP/2 alone on a plain port, h2c: off HTTP/1.1 alone", async () => {
  await using up = httpUpstream(() => new Response("ok"));
  await using gw = await startProxy(yaml`
    entrypoints:
      only: { address: "127.0.0.1:0", h2c: only }
      off: { address: "127.0.0.1:0", h2c: off }
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
  `);
  const only = `http://127.0.0.1:${gw.port("only")}/`;
  const off = `http://127.0.0.1:${gw.port("off")}/`;
  assert.deepEqual((await curl(["--http2-prior-knowledge", only])).version, "2");
  assert.deepEqual((await curl(["--http1.1", off])).version, "1.1");
  // HTTP/1.1 on the HTTP/2-only port: the engine reads a wrong preface and ends the connection.
  using c = await connect(gw.port("only"));
  await c.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
  const types: number[] = [];
  while (!types.includes(7)) {
    const head = await c.reader.readExactly(9);
    types.push(head[3]);
    await c.reader.readExactly((head[0] << 16) | (head[1] << 8) | head[2]);
  }
  assert.equal(types[0], 4, "the server's SETTINGS first");
  // The preface on the HTTP/1.1-only port is a malformed HTTP/1.1 request.
  await assert.rejects(() => curl(["--http2-prior-knowledge", "--max-time", "5", off]));
});
