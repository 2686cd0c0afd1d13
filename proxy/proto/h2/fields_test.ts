/**
 * Field section validation (RFC 9113 8.2, 8.3): what a valid request, response and trailer
 * section yields, and each rule that makes one malformed.
 */
import assert from "node:assert/strict";
import { MalformedError, parseRequest, parseResponse, parseTrailers } from "./fields.ts";

function req(fields: [string, string][], connect = false) {
  return parseRequest(fields.map((f) => f[0]), fields.map((f) => f[1]), connect);
}

const BASE: [string, string][] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":authority", "Example.COM:8443"],
  [":path", "/a?b=c"],
];

Deno.test("a valid request: pseudo-headers, lowercase authority, fields in order", () => {
  const head = req([...BASE, ["accept", "*/*"], ["cookie", "a=1"], ["cookie", "b=2"]]);
  assert.equal(head.method, "GET");
  assert.equal(head.scheme, "https");
  assert.equal(head.authority, "example.com:8443");
  assert.equal(head.path, "/a?b=c");
  assert.equal(head.protocol, null);
  assert.deepEqual(head.headers.entries(), [["accept", "*/*"], ["cookie", "a=1"], [
    "cookie",
    "b=2",
  ]]);
  assert.equal(head.contentLength, -1);
});

Deno.test("OPTIONS *, CONNECT, extended CONNECT and Host without :authority are valid", () => {
  assert.equal(req([[":method", "OPTIONS"], [":scheme", "https"], [":path", "*"]]).path, "*");
  const connect = req([[":method", "CONNECT"], [":authority", "db:5432"]]);
  assert.equal(connect.authority, "db:5432");
  assert.equal(connect.path, "");
  const ws = req([
    ...BASE.map(([n, v]) => [n, n === ":method" ? "CONNECT" : v] as [string, string]),
    [
      ":protocol",
      "websocket",
    ],
  ], true);
  assert.equal(ws.protocol, "websocket");
  const host = req([[":method", "GET"], [":scheme", "http"], [":path", "/"], ["host", "h.test"]]);
  assert.equal(host.authority, "h.test");
  assert.equal(
    req([...BASE, ["content-length", "42"], ["content-length", "42"]]).contentLength,
    42,
  );
  assert.equal(req([...BASE, ["te", "Trailers"]]).headers.get("te"), "Trailers");
});

Deno.test("each rule of RFC 9113 8.2 and 8.3 makes a request malformed", () => {
  const bad: [string, [string, string][], boolean?][] = [
    ["uppercase name", [...BASE, ["Accept", "x"]]],
    ["name with a space", [...BASE, ["a b", "x"]]],
    ["empty name", [...BASE, ["", "x"]]],
    ["CR in a value", [...BASE, ["x-a", "1\r2"]]],
    ["LF in a value", [...BASE, ["x-a", "1\n2"]]],
    ["NUL in a value", [...BASE, ["x-a", "1\x002"]]],
    ["leading space", [...BASE, ["x-a", " 1"]]],
    ["trailing tab", [...BASE, ["x-a", "1\t"]]],
    ["connection", [...BASE, ["connection", "close"]]],
    ["keep-alive", [...BASE, ["keep-alive", "5"]]],
    ["proxy-connection", [...BASE, ["proxy-connection", "x"]]],
    ["transfer-encoding", [...BASE, ["transfer-encoding", "chunked"]]],
    ["upgrade", [...BASE, ["upgrade", "h2c"]]],
    ["te gzip", [...BASE, ["te", "gzip"]]],
    ["pseudo after regular", [["accept", "x"], ...BASE]],
    ["unknown pseudo", [...BASE.slice(0, 3), [":foo", "x"], BASE[3]]],
    ["response pseudo", [[":status", "200"], ...BASE]],
    ["duplicate :method", [[":method", "GET"], ...BASE]],
    ["duplicate :path", [...BASE, [":path", "/"]]],
    ["no :method", BASE.slice(1)],
    ["no :scheme", [BASE[0], BASE[2], BASE[3]]],
    ["no :path", BASE.slice(0, 3)],
    ["empty :path", [...BASE.slice(0, 3), [":path", ""]]],
    ["absolute :path", [...BASE.slice(0, 3), [":path", "http://x/"]]],
    ["space in :path", [...BASE.slice(0, 3), [":path", "/a b"]]],
    ["* on GET", [...BASE.slice(0, 3), [":path", "*"]]],
    ["CONNECT with :path", [[":method", "CONNECT"], [":authority", "a:1"], [":path", "/"]]],
    ["CONNECT without :authority", [[":method", "CONNECT"]]],
    [":protocol not enabled", [...BASE, [":protocol", "websocket"]]],
    [":protocol on GET", [...BASE, [":protocol", "websocket"]], true],
    ["userinfo in :authority", [BASE[0], BASE[1], [":authority", "u@h"], BASE[3]]],
    ["Host differs", [...BASE, ["host", "other.test"]]],
    ["content-length not digits", [...BASE, ["content-length", "1e3"]]],
    ["content-length negative", [...BASE, ["content-length", "-1"]]],
    ["content-lengths disagree", [...BASE, ["content-length", "1"], ["content-length", "2"]]],
  ];
  for (const [what, fields, connect] of bad) {
    assert.throws(() => req(fields, connect ?? false), MalformedError, what);
  }
});

Deno.test("responses: one valid :status, no 101, no request pseudo-headers", () => {
  const ok = parseResponse([":status", "content-length"], ["204", "0"]);
  assert.equal(ok.status, 204);
  assert.equal(ok.contentLength, 0);
  for (
    const [names, values] of [
      [[], []],
      [[":status"], ["20"]],
      [[":status"], ["101"]],
      [[":status"], ["600"]],
      [[":status"], ["904"]],
      [[":status", ":status"], ["200", "200"]],
      [[":status", ":path"], ["200", "/"]],
      [["server", ":status"], ["x", "200"]],
    ]
  ) {
    assert.throws(() => parseResponse(names, values), MalformedError, names.join());
  }
});

Deno.test("trailers: regular fields only", () => {
  assert.deepEqual(parseTrailers(["grpc-status"], ["0"]).entries(), [["grpc-status", "0"]]);
  assert.throws(() => parseTrailers([":status"], ["200"]), MalformedError);
  assert.throws(() => parseTrailers(["X-A"], ["1"]), MalformedError);
});
