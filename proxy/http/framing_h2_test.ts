/**
 * What an upstream receives, byte for byte, for hostile and odd HTTP/2 requests, sent as raw
 * header blocks by python3-h2 (repeated fields, uppercase names and bad pseudo-headers, which
 * other clients refuse to send). A malformed request (RFC 9113 8.1.1) is reset by the HTTP/2
 * engine (RST_STREAM PROTOCOL_ERROR); a well-formed one the pipeline refuses gets a status; an
 * upstream never sees either.
 */
import assert from "node:assert/strict";
import { h2Head, h2Raw, type H2RawRequest } from "../testing/h2_raw.ts";
import { proxyFor } from "../testing/proxy.ts";
import { type Expected, okUpstream, received, upstreamBytes } from "../testing/upstream_bytes.ts";

interface Case {
  readonly name: string;
  readonly request: H2RawRequest;
  /** 200, 400 or 405; null: malformed, reset by the h2 engine (RST_STREAM PROTOCOL_ERROR). */
  readonly status: number | null;
  /** For refusals answered with a status: the reason logged and counted. */
  readonly reason?: string;
  /** What the upstream receives; absent for refusals (it receives nothing). */
  readonly upstream?: Expected;
}

const ID: [string, string] = ["x-request-id", "t"];
const post = (fields: [string, string][], data = ["hello"]): H2RawRequest => ({
  headers: h2Head([...fields, ID], { method: "POST", path: "/p" }),
  data,
});
const get = (fields: [string, string][], pseudo: Parameters<typeof h2Head>[1] = {}) => ({
  headers: h2Head([...fields, ID], pseudo),
});
/** A request as it reaches the upstream: the fields in the order the client sent them. */
const posted = (framing: string, body = "hello"): Expected => ({
  method: "POST",
  target: "/p",
  host: "localhost",
  fields: ["x-request-id: t"],
  framing,
  body,
  via: "2",
});
const got = (e: Partial<Expected> = {}): Expected => ({
  host: "localhost",
  fields: ["x-request-id: t"],
  via: "2",
  ...e,
});

const CASES: readonly Case[] = [
  {
    name: "content-length: the client's copy never goes on, Gatehouse's own does",
    request: post([["content-length", "5"]]),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "content-length with leading zeros goes on as a plain number",
    request: post([["content-length", "005"]]),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "repeated identical content-length fields collapse to one",
    request: post([["content-length", "5"], ["content-length", "5"]]),
    status: 200,
    upstream: posted("content-length: 5"),
  },
  {
    name: "repeated differing content-length fields are refused (the smuggling of issue 14)",
    request: post([["content-length", "5"], ["content-length", "6"]]),
    status: null,
  },
  {
    name: "content-length with a trailing space is refused",
    request: post([["content-length", "5 "]]),
    status: null,
  },
  {
    name: "content-length that the DATA frames contradict is refused",
    request: post([["content-length", "6"]]),
    status: null,
  },
  {
    name: "a body without content-length goes on chunked",
    request: post([]),
    status: 200,
    upstream: posted("transfer-encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"),
  },
  {
    name: "a POST without DATA frames goes on with content-length: 0",
    request: post([], []),
    status: 200,
    upstream: posted("content-length: 0", ""),
  },
  {
    name: "a DELETE without DATA frames goes on without a framing field",
    request: { headers: h2Head([ID], { method: "DELETE", path: "/p" }) },
    status: 200,
    upstream: got({ method: "DELETE", target: "/p" }),
  },
  {
    name: "transfer-encoding is refused",
    request: post([["transfer-encoding", "chunked"]]),
    status: null,
  },
  {
    name: "a host field that agrees with :authority goes on once",
    request: get([["host", "LOCALHOST"]]),
    status: 200,
    upstream: got(),
  },
  {
    name: "a host field that differs from :authority is refused",
    request: get([["host", "evil.example"]]),
    status: null,
  },
  {
    name: "two host fields are refused",
    request: get([["host", "localhost"], ["host", "evil.example"]]),
    status: 400,
    reason: "host_repeated",
  },
  {
    name: "without :authority, the host field is the authority",
    request: get([["host", "a.test"]], { authority: null }),
    status: 200,
    upstream: got({ host: "a.test" }),
  },
  {
    name: "userinfo in :authority is refused",
    request: get([], { authority: "evil.example@localhost" }),
    status: null,
  },
  {
    name: ":authority with a space is refused",
    request: get([], { authority: "local host" }),
    status: null,
  },
  {
    name: ":authority with a path is refused",
    request: get([], { authority: "evil.example/x" }),
    status: null,
  },
  {
    name: ':path "*" on a GET is refused',
    request: get([], { path: "*" }),
    status: null,
  },
  {
    name: "a fragment in :path is refused",
    request: get([], { path: "/admin#x" }),
    status: 400,
    reason: "bad_target",
  },
  {
    name: '"%" in :path without two hex digits is refused',
    request: get([], { path: "/a%zz" }),
    status: 400,
    reason: "bad_target",
  },
  {
    name: "a method override field is refused",
    request: get([["x-http-method-override", "DELETE"]], { method: "POST" }),
    status: 400,
    reason: "method_override",
  },
  {
    name: "two authorization fields are refused",
    request: get([["authorization", "Bearer a"], ["authorization", "Bearer b"]]),
    status: 400,
    reason: "header_repeated",
  },
  {
    name: "TRACE is refused with 405",
    request: get([], { method: "TRACE" }),
    status: 405,
    reason: "trace",
  },
  {
    name: "a :method with lower-case letters is refused",
    request: get([], { method: "delete" }),
    status: 400,
    reason: "bad_request_line",
  },
  {
    name: "a :path that starts with // goes up with one /, as routing read it",
    request: get([], { path: "//x/admin?q=//y" }),
    status: 200,
    upstream: got({ target: "/x/admin?q=//y" }),
  },
  {
    name: "a backslash in :path is refused",
    request: get([], { path: "/a\\..\\admin" }),
    status: 400,
    reason: "bad_target",
  },
  {
    name: "an encoded backslash in :path is refused",
    request: get([], { path: "/a%5c..%5cadmin" }),
    status: 400,
    reason: "encoded_path",
  },
  {
    name: "CONNECT is refused with 405, never forwarded",
    request: { headers: [[":method", "CONNECT"], [":authority", "localhost:443"]] },
    status: 405,
    reason: "connect",
  },
  {
    name: 'header names with "_" are dropped by default',
    request: get([["x_user", "admin"], ["x-user", "alice"]]),
    status: 200,
    upstream: got({ fields: ["x-user: alice", "x-request-id: t"] }),
  },
  {
    name: "upgrade (connection-specific) is refused",
    request: get([["upgrade", "h2c"]]),
    status: null,
  },
  {
    name: "an uppercase field name is refused",
    request: get([["X-Upper", "1"]]),
    status: null,
  },
];

Deno.test("HTTP/2: the exact bytes the upstream receives", async (t) => {
  await using up = okUpstream();
  await using gw = await proxyFor([up.url]);
  const port = gw.port("websecure");
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const seen = up.requests.length;
      const logged = gw.outcomes.length;
      const result = await h2Raw(port, gw.certs.caCertPath, [c.request]);
      const res = result.responses[0];
      if (c.status === null) {
        // A stream error (RFC 9113 8.1.1): the stream is reset, the connection goes on.
        assert.equal(res.status, null, res.body);
        assert.equal(res.reset, "PROTOCOL_ERROR");
        assert.equal(result.goaway, null);
        assert.equal(up.requests.length, seen);
        return;
      }
      assert.equal(res.status, c.status, res.body);
      if (c.upstream === undefined) {
        assert.match(res.body, new RegExp(`^${c.status} [A-Za-z ]+: .+\n$`));
        assert.equal(up.requests.length, seen);
        const record = gw.outcomes.slice(logged).find((o) => o.reason !== null);
        assert.equal(record?.reason, c.reason);
        assert.equal(record?.protocol, "HTTP/2");
        return;
      }
      assert.equal(up.requests.length, seen + 1);
      assert.equal(received(up.requests[seen]), upstreamBytes("https", c.upstream));
    });
  }
});
