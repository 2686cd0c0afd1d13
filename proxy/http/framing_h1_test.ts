/**
 * What an upstream receives, byte for byte, for hostile and odd HTTP/1.1 requests, on a plain
 * and a TLS entrypoint: Gatehouse writes the framing and the Host itself, and refuses what is
 * ambiguous with a counted reason, closing the connection after it.
 */
import assert from "node:assert/strict";
import { connect, proxyFor, type TestProxy } from "../testing/proxy.ts";
import type { RawUpstream } from "../testing/servers.ts";
import {
  type Expected,
  message,
  okUpstream,
  received,
  upstreamBytes,
} from "../testing/upstream_bytes.ts";
import { readResponse } from "../testing/wire.ts";

interface Case {
  readonly name: string;
  /** The request as the client writes it (a byte string). */
  readonly request: string | ((upstreamPort: number) => string);
  readonly status: number;
  /** For refusals: the reason logged and counted. */
  readonly reason?: string;
  /** What the upstream receives; absent for refusals (it receives nothing). */
  readonly upstream?: Expected | ((upstreamPort: number) => Expected);
}

const POST = ["POST /p HTTP/1.1", "Host: a.test", "X-Request-Id: t"];
const GET = ["GET / HTTP/1.1", "Host: a.test", "X-Request-Id: t"];
const posted = (framing: string, body = "hello"): Expected => ({
  method: "POST",
  target: "/p",
  host: "a.test",
  framing,
  body,
});

const CASES: readonly Case[] = [
  {
    name: "Content-Length: the client's copy never goes on, Gatehouse's own does",
    request: message([...POST, "Content-Length: 5"], "hello"),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "Content-Length with leading zeros goes on as a plain number",
    request: message([...POST, "Content-Length: 005"], "hello"),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "repeated identical Content-Length lines collapse to one",
    request: message([...POST, "Content-Length: 5", "Content-Length: 5"], "hello"),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "an identical Content-Length list collapses to one",
    request: message([...POST, "Content-Length: 5, 5"], "hello"),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "differing Content-Length lines are refused",
    request: message([...POST, "Content-Length: 5", "Content-Length: 6"], "hello!"),
    status: 400,
    reason: "content_length",
  },
  {
    name: "a differing Content-Length list is refused",
    request: message([...POST, "Content-Length: 5, 6"], "hello!"),
    status: 400,
    reason: "content_length",
  },
  {
    name: "Content-Length followed by a no-break space is refused",
    request: message([...POST, "Content-Length: 5\xa0"], "hello"),
    status: 400,
    reason: "content_length",
  },
  {
    name: "chunked is decoded and framed again: extensions and trailers stay behind",
    request: message(
      [...POST, "Transfer-Encoding: chunked"],
      "5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    ),
    status: 200,
    upstream: posted("transfer-encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"),
  },
  {
    name: "a chunk size with whitespace before it is refused",
    request: message([...POST, "Transfer-Encoding: chunked"], " 5\r\nhello\r\n0\r\n\r\n"),
    status: 400,
    reason: "bad_chunk",
  },
  {
    name: "a chunk size followed by a no-break space is refused",
    request: message([...POST, "Transfer-Encoding: chunked"], "5\xa0\r\nhello\r\n0\r\n\r\n"),
    status: 400,
    reason: "bad_chunk",
  },
  {
    name: "Transfer-Encoding with Content-Length is refused",
    request: message(
      [...POST, "Content-Length: 5", "Transfer-Encoding: chunked"],
      "5\r\nhello\r\n0\r\n\r\n",
    ),
    status: 400,
    reason: "transfer_encoding",
  },
  {
    name: "Transfer-Encoding followed by a vertical tab is refused",
    request: message([...POST, "Transfer-Encoding: chunked\x0b"], "5\r\nhello\r\n0\r\n\r\n"),
    status: 400,
    reason: "bad_header",
  },
  {
    name: "a POST with Content-Length: 0 says so upstream",
    request: message([...POST, "Content-Length: 0"]),
    status: 200,
    upstream: posted("content-length: 0", ""),
  },
  {
    name: "a GET without a body gets no framing field",
    request: message(GET),
    status: 200,
    upstream: { host: "a.test" },
  },
  {
    name: "a bare CR in a field is refused at once",
    request: "GET / HTTP/1.1\r\nHost: a.test\rX-Injected: 1\r\n",
    status: 400,
    reason: "bare_cr",
  },
  {
    name: "CR-only line ends are refused at once",
    request: "GET / HTTP/1.1\rHost: a.test\r\r",
    status: 400,
    reason: "bare_cr",
  },
  {
    name: "an HTTP/1.1 request without Host is refused",
    request: message(["GET / HTTP/1.1", "X-Request-Id: t"]),
    status: 400,
    reason: "host_missing",
  },
  {
    name: "two Host fields are refused",
    request: message([...GET, "Host: b.test"]),
    status: 400,
    reason: "host_repeated",
  },
  ...["a, b", "local host", "evil.example/x", "x@y"].map((host): Case => ({
    name: `Host ${JSON.stringify(host)} is refused`,
    request: message(["GET / HTTP/1.1", `Host: ${host}`]),
    status: 400,
    reason: "host_invalid",
  })),
  {
    name: "an absolute-form target's authority replaces Host (RFC 9112 3.2.2)",
    request: message(["GET http://A.test/x?q=1 HTTP/1.1", "Host: other.test", "X-Request-Id: t"]),
    status: 200,
    upstream: { target: "/x?q=1", host: "a.test" },
  },
  {
    name: "userinfo in an absolute-form target is refused",
    request: message(["GET http://evil.example@a.test/ HTTP/1.1", "Host: a.test"]),
    status: 400,
    reason: "userinfo",
  },
  {
    name: "an HTTP/1.0 request without Host goes up with the server's authority as Host",
    request: message(["GET / HTTP/1.0", "X-Request-Id: t"]),
    status: 200,
    upstream: (port) => ({ host: `127.0.0.1:${port}`, forwardedHost: null, via: "1.0" }),
  },
  {
    name: "Upgrade: h2c is removed and no tunnel opens",
    request: message([
      ...GET,
      "Connection: Upgrade, HTTP2-Settings",
      "Upgrade: h2c",
      "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
    ]),
    status: 200,
    upstream: { host: "a.test" },
  },
  {
    name: 'header names with "_" are dropped by default',
    request: message([...GET, "X_User: admin", "X-User: alice"]),
    status: 200,
    upstream: { host: "a.test", fields: ["X-Request-Id: t", "X-User: alice"] },
  },
  {
    name: "CONNECT is refused with 405",
    request: message(["CONNECT a.test:443 HTTP/1.1", "Host: a.test:443"]),
    status: 405,
    reason: "connect",
  },
  {
    name: "OPTIONS * goes on as it is",
    request: message(["OPTIONS * HTTP/1.1", "Host: a.test", "X-Request-Id: t"]),
    status: 200,
    upstream: { method: "OPTIONS", target: "*", host: "a.test" },
  },
  ...["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"].map((name): Case => ({
    name: `a method override field is refused: ${name}`,
    request: message(["POST /a HTTP/1.1", "Host: a.test", `${name}: DELETE`, "Content-Length: 0"]),
    status: 400,
    reason: "method_override",
  })),
  {
    name: "two Authorization fields are refused",
    request: message(["GET / HTTP/1.1", "Host: a.test", "Authorization: a", "authorization: b"]),
    status: 400,
    reason: "header_repeated",
  },
  ...["delete", "Get", "head", "connect"].map((method): Case => ({
    name: `a method with lower-case letters is refused: ${method}`,
    request: message([`${method} /a HTTP/1.1`, "Host: a.test"]),
    status: 400,
    reason: "bad_request_line",
  })),
  {
    name: "* with another method is refused",
    request: message(["GET * HTTP/1.1", "Host: a.test"]),
    status: 400,
    reason: "bad_target",
  },
  ...([
    ["a fragment", "/admin#x", "bad_target"],
    ["a fragment in an absolute-form target", "http://a.test/admin#x", "bad_target"],
    ['"%" without two hex digits', "/a%zz", "bad_target"],
    ['"%" cut short by the query', "/a%4?b", "bad_target"],
    ['a ".." segment with parameters', "/static/..;/admin", "bad_target"],
    ["a backslash", "/static\\..\\admin", "bad_target"],
    ["an encoded slash", "/admin%2fx", "encoded_path"],
    ["an encoded percent (a second decoding)", "/admin%252F", "encoded_path"],
    ["an encoded null", "/a%00.txt", "encoded_path"],
  ] as const).map(([what, target, reason]): Case => ({
    name: `${what} in the target is refused: ${target}`,
    request: message([`GET ${target} HTTP/1.1`, "Host: a.test"]),
    status: 400,
    reason,
  })),
  {
    name: 'a stray "%" in the query goes on as it is',
    request: message(["GET /a?q=100% HTTP/1.1", "Host: a.test", "X-Request-Id: t"]),
    status: 200,
    upstream: { target: "/a?q=100%", host: "a.test" },
  },
  {
    name:
      "the path goes on as routing read it (letters decoded, dot segments resolved), the query as sent",
    request: message([
      "GET /x/%2e%2E/%61b/.?next=%2Fa%23b HTTP/1.1",
      "Host: a.test",
      "X-Request-Id: t",
    ]),
    status: 200,
    upstream: { target: "/ab/?next=%2Fa%23b", host: "a.test" },
  },
];

/** Runs every case against `entrypoint` of a proxy in front of `up`. */
async function runCases(t: Deno.TestContext, gw: TestProxy, up: RawUpstream, entrypoint: string) {
  const tls = gw.config.entrypoints[entrypoint].tls !== null;
  const proto = tls ? "https" : "http";
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const seen = up.requests.length;
      const logged = gw.outcomes.length;
      using client = await connect(gw.port(entrypoint), tls ? { tls: "localhost" } : {});
      const request = typeof c.request === "string" ? c.request : c.request(up.port);
      await client.send(Uint8Array.from(request, (ch) => ch.charCodeAt(0)));
      const res = await readResponse(client.reader);
      assert.equal(res.status, c.status, res.text);
      const expected = typeof c.upstream === "function" ? c.upstream(up.port) : c.upstream;
      if (expected === undefined) {
        assert.match(res.text, new RegExp(`^${c.status} [A-Za-z ]+: .+\n$`));
        assert.equal(
          res.fields.find(([n]) => n === "content-type")?.[1],
          "text/plain; charset=utf-8",
        );
        // The connection closes after a refusal; the upstream saw nothing.
        assert.equal((await client.reader.readToEnd()).length, 0);
        assert.equal(up.requests.length, seen);
        const record = gw.outcomes.slice(logged).find((o) => o.reason !== null);
        assert.equal(record?.reason, c.reason);
        assert.equal(record?.status, c.status);
        return;
      }
      assert.equal(up.requests.length, seen + 1);
      const got = up.requests[seen];
      assert.equal(received(got), upstreamBytes(proto, expected));
    });
  }
}

Deno.test("HTTP/1.1 on a plain entrypoint: the exact bytes the upstream receives", async (t) => {
  await using up = okUpstream();
  await using gw = await proxyFor([up.url]);
  await runCases(t, gw, up, "web");
});

Deno.test("HTTP/1.1 over TLS: the exact bytes the upstream receives", async (t) => {
  await using up = okUpstream();
  await using gw = await proxyFor([up.url]);
  await runCases(t, gw, up, "websecure");
});

Deno.test("pipelined requests each get their own framing upstream", async () => {
  await using up = okUpstream();
  await using gw = await proxyFor([up.url]);
  using client = await connect(gw.port("web"));
  await client.send(
    message([...POST, "Content-Length: 5", "Content-Length: 5"], "hello") + message(GET),
  );
  assert.equal((await readResponse(client.reader)).status, 200);
  assert.equal((await readResponse(client.reader)).status, 200);
  assert.deepEqual(up.requests.map(received), [
    upstreamBytes("http", posted("content-length: 5")),
    upstreamBytes("http", { host: "a.test" }),
  ]);
});
