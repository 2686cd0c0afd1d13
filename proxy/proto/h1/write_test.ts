/** Head encoding (write.ts): the bytes that go on the wire for a HeaderList. */
import assert from "node:assert/strict";
import { HeaderList } from "../header_list.ts";
import { headBuffers } from "../../net/buffer_pool.ts";
import { latin1 } from "../../testing/wire.ts";
import { encodeHead, releaseHead, serializeFields, serializeRequestHead } from "./write.ts";

Deno.test("a request head: Host first, framing of Gatehouse's own, other fields as they came", () => {
  const headers = HeaderList.from([
    ["User-Agent", "curl/8"],
    ["Host", "evil.test"],
    ["Content-Length", "5"],
    ["Transfer-Encoding", "chunked"],
    ["X-Obs", "caf\xe9 \x80\xff"],
  ]);
  const cases: [number | null, string][] = [
    [null, ""],
    [12, "content-length: 12\r\n"],
    [-1, "transfer-encoding: chunked\r\n"],
  ];
  for (const [length, framing] of cases) {
    const bytes = encodeHead(serializeRequestHead("GET", "/a?b", "app:8080", headers, length), 0);
    assert.equal(
      latin1(bytes),
      "GET /a?b HTTP/1.1\r\nhost: app:8080\r\nUser-Agent: curl/8\r\n" +
        `X-Obs: caf\xe9 \x80\xff\r\n${framing}\r\n`,
    );
    releaseHead(bytes);
  }
  const post = serializeRequestHead("POST", "/", "a", new HeaderList(), null);
  assert.equal(post, "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n");
});

Deno.test("a response head leaves room for the body after it, pooled or not", () => {
  const headers = HeaderList.from([["content-type", "text/plain"], ["x-wide", "\u0100!"]]);
  const head = serializeFields(headers, "HTTP/1.1 200 OK\r\n") + "\r\n";
  const small = encodeHead(head, 3);
  small.set([0x61, 0x62, 0x63], head.length);
  assert.equal(
    latin1(small),
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-wide: ?!\r\n\r\nabc",
  );
  assert.equal(small.buffer.byteLength, headBuffers.size);
  releaseHead(small);
  const big = "v".repeat(headBuffers.size);
  const large = encodeHead(big, 1);
  assert.equal(large.length, headBuffers.size + 1);
  assert.notEqual(large.buffer.byteLength, headBuffers.size);
});
