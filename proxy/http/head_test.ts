/**
 * HEAD gets the GET's status and headers, Content-Length included, and no body: for the answers
 * Gatehouse writes itself (welcome page, 404, 502, refusals) and for forwarded ones, on
 * HTTP/1.1 (plain and TLS) and HTTP/2.
 */
import assert from "node:assert/strict";
import { h2Head, h2Raw } from "../testing/h2_raw.ts";
import { connect, startProxy, type TestProxy, yaml } from "../testing/proxy.ts";
import { closedPort, rawUpstream } from "../testing/servers.ts";
import { okUpstream } from "../testing/upstream_bytes.ts";
import { field, readResponse } from "../testing/wire.ts";

async function proxy(upstream: string): Promise<TestProxy> {
  return await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes:
      - { match: { path: /welcome }, service: welcome@internal }
      - { match: { path: /app }, service: app }
      - { match: { path: /down }, service: down }
    services:
      app: { servers: [${upstream}] }
      down: { servers: ["http://127.0.0.1:${closedPort()}"], retries: 0 }
  `);
}

/** Paths answered by Gatehouse itself or forwarded, with the GET status expected. */
const PATHS: [string, number][] = [["/welcome", 200], ["/app", 200], ["/nothing", 404], [
  "/down",
  502,
]];

Deno.test("HEAD over HTTP/1.1 carries the GET's Content-Length and no body", async (t) => {
  await using up = okUpstream();
  await using gw = await proxy(up.url);
  for (const entrypoint of ["web", "websecure"]) {
    await t.step(entrypoint, async () => {
      const tls = entrypoint === "websecure" ? { tls: "localhost" } : {};
      using c = await connect(gw.port(entrypoint), tls);
      for (const [path, status] of PATHS) {
        // GET, HEAD, GET on one connection: a body sent for HEAD would break the last GET.
        await c.send(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        const full = await readResponse(c.reader);
        await c.send(`HEAD ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        const head = await readResponse(c.reader, "HEAD");
        await c.send(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        const again = await readResponse(c.reader);
        assert.deepEqual([full.status, head.status, again.status], [status, status, status], path);
        assert.equal(field(head, "content-length"), String(full.body.length), path);
        assert.equal(field(head, "content-type"), field(full, "content-type"), path);
        assert.equal(again.text, full.text, path);
      }
    });
  }
});

Deno.test("HEAD over HTTP/2 carries the GET's content-length and no DATA", async () => {
  await using up = okUpstream();
  await using gw = await proxy(up.url);
  const requests = PATHS.flatMap(([path]) => [
    { headers: h2Head([], { path }) },
    { headers: h2Head([], { path, method: "HEAD" }) },
  ]);
  const { responses, goaway } = await h2Raw(gw.port("websecure"), gw.certs.caCertPath, requests);
  assert.equal(goaway, null);
  PATHS.forEach(([path, status], i) => {
    const [full, head] = [responses[2 * i], responses[2 * i + 1]];
    assert.deepEqual([full.status, head.status, head.reset], [status, status, null], path);
    const headerOf = (r: typeof full, name: string) => r.headers.find(([n]) => n === name)?.[1];
    assert.equal(headerOf(head, "content-length"), String(full.body.length), path);
    assert.equal(headerOf(head, "content-type"), headerOf(full, "content-type"), path);
    assert.equal(head.body, "", path);
  });
});

Deno.test("a Content-Length that goes on without a body (HEAD, 304) goes as one plain number", async () => {
  const answers: Record<string, string> = {
    "/app/head": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 005\r\n\r\n",
    "/app/304": "HTTP/1.1 304 Not Modified\r\nContent-Length: 7, 7\r\n\r\n",
    "/app/bad": "HTTP/1.1 304 Not Modified\r\nContent-Length: 7, 8\r\n\r\n",
    // Transfer-Encoding overrides Content-Length, whose value is then never looked at.
    "/app/te": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n" +
      "2\r\nok\r\n0\r\n\r\n",
  };
  await using up = rawUpstream((req, conn) => conn.write(answers[req.target]));
  await using gw = await proxy(up.url);
  using client = await connect(gw.port("web"));
  const lengths = async (method: string, path: string) => {
    await client.send(`${method} /app${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    const res = await readResponse(client.reader, method);
    return [
      res.status,
      res.fields.filter(([n]) => n.toLowerCase() === "content-length").map(([, v]) => v),
    ];
  };
  assert.deepEqual(await lengths("HEAD", "/head"), [200, ["5"]]);
  assert.deepEqual(await lengths("GET", "/304"), [304, ["7"]]);
  assert.equal((await lengths("GET", "/bad"))[0], 502);
  assert.deepEqual(await lengths("GET", "/te"), [200, []]);
  // An HTTP/2 client gets the field as it goes on, so one plain number there too.
  const { responses } = await h2Raw(gw.port("websecure"), gw.certs.caCertPath, [
    { headers: h2Head([], { path: "/app/head", method: "HEAD" }) },
    { headers: h2Head([], { path: "/app/te" }) },
  ]);
  const lengthsOf = (i: number) => responses[i].headers.filter(([n]) => n === "content-length");
  assert.deepEqual(lengthsOf(0), [["content-length", "5"]]);
  assert.deepEqual([responses[1].status, responses[1].body, lengthsOf(1)], [200, "ok", []]);
});
