import assert from "node:assert/strict";
import {
  type Framing,
  HttpParseError,
  parseContentLength,
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  responseFraming,
} from "./parse.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** A head as the buffered reader hands it over: without the blank line that ends it. */
function request(...lines: string[]) {
  return parseRequestHead(encode(lines.join("\r\n")));
}

function framing(...lines: string[]): Framing {
  return requestFraming(request(...lines));
}

/** The status a server answers to a malformed request head, and why. */
function refusal(...lines: string[]): [number, string] {
  try {
    framing(...lines);
  } catch (err) {
    assert.ok(err instanceof HttpParseError, String(err));
    return [err.status, err.message];
  }
  assert.fail(`accepted: ${JSON.stringify(lines)}`);
}

function refused(...lines: string[]): number {
  return refusal(...lines)[0];
}

Deno.test("parseRequestHead reads the request line and fields as sent", () => {
  const head = request(
    "POST /a/b?c=d HTTP/1.1",
    "Host: example.test",
    "X-Mixed-Case:  padded value \t",
    "x-empty:",
    "X-Dup: 1",
    "x-dup: 2",
  );
  assert.equal(head.method, "POST");
  assert.equal(head.target, "/a/b?c=d");
  assert.equal(head.version, "1.1");
  assert.deepEqual(head.headers.entries(), [
    ["Host", "example.test"],
    ["X-Mixed-Case", "padded value"],
    ["x-empty", ""],
    ["X-Dup", "1"],
    ["x-dup", "2"],
  ]);
  assert.equal(head.headers.getJoined("x-dup"), "1, 2");
  assert.equal(parseRequestHead(encode("GET / HTTP/1.0\nHost: a")).version, "1.0");
});

Deno.test("parseRequestHead refuses malformed request lines", () => {
  assert.equal(refused("GET /"), 400);
  assert.equal(refused("GET / HTTP/1.1 extra"), 400);
  assert.equal(refused("GET /a b HTTP/1.1"), 400);
  assert.equal(refused("G(T / HTTP/1.1"), 400);
  assert.equal(refused("GET / HTTP/2.0"), 505);
  assert.equal(refused("GET / HTTPS/1.1"), 400);
  assert.equal(refused("GET /\x7f HTTP/1.1"), 400);
});

Deno.test("parseRequestHead refuses field syntax that smuggling relies on", () => {
  // Whitespace between the name and the colon (RFC 9112 5.1).
  assert.equal(refused("GET / HTTP/1.1", "Content-Length : 5"), 400);
  assert.equal(refused("GET / HTTP/1.1", "Transfer-Encoding\t: chunked"), 400);
  // Obsolete line folding, also on the first field.
  assert.deepEqual(refusal("GET / HTTP/1.1", "X-A: 1", " folded: x"), [
    400,
    "obsolete line folding",
  ]);
  assert.deepEqual(refusal("GET / HTTP/1.1", "\tX-A: 1"), [400, "obsolete line folding"]);
  // No colon, empty name, bad name characters, control characters in values.
  assert.equal(refused("GET / HTTP/1.1", "X-A 1"), 400);
  assert.equal(refused("GET / HTTP/1.1", ": 1"), 400);
  assert.equal(refused("GET / HTTP/1.1", "X(A): 1"), 400);
  assert.equal(refused("GET / HTTP/1.1", "X-A: a\x00b"), 400);
  assert.equal(refused("GET / HTTP/1.1", "X-A: a\rb"), 400);
});

Deno.test("requestFraming: one unambiguous body length or a refusal", () => {
  assert.deepEqual(framing("GET / HTTP/1.1"), { kind: "none" });
  assert.deepEqual(framing("POST / HTTP/1.1", "Content-Length: 0"), { kind: "none" });
  assert.deepEqual(framing("POST / HTTP/1.1", "Content-Length: 12"), {
    kind: "length",
    length: 12,
  });
  assert.deepEqual(
    framing("POST / HTTP/1.1", "Content-Length: 12", "content-length: 12"),
    { kind: "length", length: 12 },
  );
  assert.deepEqual(framing("POST / HTTP/1.1", "Content-Length: 7, 7"), {
    kind: "length",
    length: 7,
  });
  assert.deepEqual(framing("POST / HTTP/1.1", "Transfer-Encoding: Chunked"), { kind: "chunked" });

  // TE and CL together: the classic request smuggling shape.
  assert.equal(refused("POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked"), 400);
  assert.equal(refused("POST / HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 0"), 400);
  // Bad or conflicting lengths.
  for (const cl of ["abc", "-1", "+5", "1e3", "0x10", "5 5", "", "1234567890123456"]) {
    assert.equal(refused("POST / HTTP/1.1", `Content-Length: ${cl}`), 400, cl);
  }
  assert.equal(refused("POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 6"), 400);
  assert.equal(refused("POST / HTTP/1.1", "Content-Length: 5, 6"), 400);
  // Transfer codings other than a lone chunked, and chunked in HTTP/1.0.
  assert.equal(refused("POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked"), 501);
  assert.equal(refused("POST / HTTP/1.1", "Transfer-Encoding: chunked, chunked"), 501);
  assert.equal(
    refused("POST / HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: x"),
    501,
  );
  assert.equal(refused("POST / HTTP/1.1", "Transfer-Encoding: xchunked"), 501);
  assert.equal(refused("POST / HTTP/1.0", "Transfer-Encoding: chunked"), 400);
});

Deno.test("only SP and HTAB are whitespace around framing values (not NBSP, VT, FF)", () => {
  // A byte string, one byte per char: 0xa0 is the no-break space String.trim accepts.
  const latin1Head = (...lines: string[]) =>
    requestFraming(parseRequestHead(Uint8Array.from(lines.join("\r\n"), (c) => c.charCodeAt(0))));
  for (const pad of ["\xa0", "\x0b", "\x0c"]) {
    for (const field of [`Content-Length: 5${pad}`, `Content-Length: ${pad}5`]) {
      assert.throws(
        () => latin1Head("POST / HTTP/1.1", field),
        // VT and FF are control characters: refused as such before the length is read.
        (e) => e instanceof HttpParseError && e.status === 400,
        JSON.stringify(field),
      );
    }
    assert.throws(
      () => latin1Head("POST / HTTP/1.1", `Transfer-Encoding: chunked${pad}`),
      (e) => e instanceof HttpParseError && e.status >= 400,
      JSON.stringify(pad),
    );
  }
  assert.deepEqual(latin1Head("POST / HTTP/1.1", "Content-Length: \t5 "), {
    kind: "length",
    length: 5,
  });
  assert.deepEqual(latin1Head("POST / HTTP/1.1", "Transfer-Encoding: \tchunked "), {
    kind: "chunked",
  });
});

Deno.test("parseContentLength: 1*DIGIT, identical repeats are one value, reasons say why", () => {
  assert.equal(parseContentLength(null, 400), null);
  assert.equal(parseContentLength("005", 400), 5);
  assert.equal(parseContentLength("0", 400), 0);
  assert.equal(parseContentLength("5, 5,5 ,\t5", 400), 5);
  assert.equal(parseContentLength("000000000000000000001", 400), 1);
  const reason = (raw: string) => {
    try {
      parseContentLength(raw, 400);
    } catch (err) {
      assert.ok(err instanceof HttpParseError);
      return [err.status, err.reason, err.message];
    }
    assert.fail(`accepted ${JSON.stringify(raw)}`);
  };
  assert.deepEqual(reason("5, 6"), [400, "content_length", "conflicting content-length values"]);
  assert.deepEqual(reason("5,"), [400, "content_length", "malformed content-length"]);
  assert.deepEqual(reason("1234567890123456"), [400, "content_length", "content-length too large"]);
  for (const raw of ["", " ", "5 5", "+5", "-5", "5.0", "0x5", "\u0665", "5;q=1"]) {
    assert.equal(reason(raw)[1], "content_length", JSON.stringify(raw));
  }
});

function response(...lines: string[]) {
  return parseResponseHead(encode(lines.join("\r\n")));
}

Deno.test("parseResponseHead reads the status line, with or without a reason", () => {
  const head = response("HTTP/1.1 404 Not Found Here", "Content-Length: 3");
  assert.deepEqual([head.version, head.status, head.reason], ["1.1", 404, "Not Found Here"]);
  assert.equal(head.headers.get("content-length"), "3");
  assert.deepEqual([response("HTTP/1.0 200").status, response("HTTP/1.0 200").reason], [200, ""]);
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/2 200",
      "HTTP/1.1  200 OK",
      "ICY 200",
      // Outside 100..599 (RFC 9110 15), and control characters in the reason.
      "HTTP/1.1 600 Custom",
      "HTTP/1.1 904 No Content",
      "HTTP/1.1 200 O\x00K",
      "HTTP/1.1 200 O\x0bK",
    ]
  ) {
    assert.throws(
      () => response(line),
      (e) => e instanceof HttpParseError && e.status === 502,
      line,
    );
  }
});

Deno.test("responseFraming follows RFC 9112 6.3", () => {
  const frame = (method: string, ...lines: string[]) => responseFraming(method, response(...lines));
  assert.deepEqual(frame("HEAD", "HTTP/1.1 200 OK", "Content-Length: 10"), { kind: "none" });
  for (const status of [100, 103, 204, 304]) {
    assert.deepEqual(frame("GET", `HTTP/1.1 ${status} X`, "Content-Length: 10"), { kind: "none" });
  }
  assert.deepEqual(frame("GET", "HTTP/1.1 200 OK", "Content-Length: 10"), {
    kind: "length",
    length: 10,
  });
  assert.deepEqual(frame("GET", "HTTP/1.1 200 OK", "Content-Length: 0"), { kind: "none" });
  assert.deepEqual(frame("GET", "HTTP/1.1 200 OK"), { kind: "close" });
  // Transfer-Encoding overrides Content-Length.
  assert.deepEqual(
    frame("GET", "HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 3"),
    {
      kind: "chunked",
    },
  );
  assert.deepEqual(frame("GET", "HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), { kind: "close" });
  assert.throws(() => frame("GET", "HTTP/1.1 200 OK", "Content-Length: 3, 4"), HttpParseError);
  assert.throws(() => frame("GET", "HTTP/1.1 200 OK", "Content-Length: x"), HttpParseError);
  // No body, but the Content-Length that goes on with a HEAD or 304 answer is checked too.
  assert.deepEqual(frame("HEAD", "HTTP/1.1 200 OK", "Content-Length: 5, 5"), { kind: "none" });
  assert.throws(() => frame("HEAD", "HTTP/1.1 200 OK", "Content-Length: 3, 4"), HttpParseError);
  assert.throws(() => frame("GET", "HTTP/1.1 304 X", "Content-Length: : 5"), HttpParseError);
});
