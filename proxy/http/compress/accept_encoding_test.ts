import assert from "node:assert/strict";
import { negotiate, parseAcceptEncoding, weightOf } from "./accept_encoding.ts";
import type { Codec } from "../../config/types.ts";

const ALL: Codec[] = ["zstd", "br", "gzip"];

function choose(header: string | null, offered: Codec[] = ALL) {
  const accept = parseAcceptEncoding(header);
  assert.ok(accept !== null);
  return negotiate(accept, offered);
}

Deno.test("no Accept-Encoding header is told apart from an empty one", () => {
  assert.equal(parseAcceptEncoding(null), null);
  assert.equal(choose(""), "identity");
  assert.equal(choose(" , ,"), "identity");
});

Deno.test("q-values pick the coding; the server's order breaks ties", () => {
  const cases: [string, Codec[], string | null][] = [
    ["gzip", ALL, "gzip"],
    ["gzip, br", ALL, "br"],
    ["gzip, deflate, br, zstd", ALL, "zstd"],
    ["gzip, deflate, br, zstd", ["gzip", "br"], "gzip"],
    ["gzip;q=0.5, br;q=0.8", ALL, "br"],
    ["br;q=0.9, gzip;q=0.9", ALL, "br"],
    ["br;q=0.9, gzip;q=1", ALL, "gzip"],
    ["GZIP;Q=0.4", ALL, "gzip"],
    ["x-gzip", ALL, "gzip"],
    ["deflate", ALL, "identity"],
    ["*", ALL, "zstd"],
    ["zstd;q=0, *", ALL, "br"],
    ["*;q=0.3, gzip", ALL, "gzip"],
    ["gzip;q=0.1", ALL, "gzip"],
    ["gzip;q=0.2, identity", ALL, "identity"],
    ["gzip;q=0.2, identity;q=0.2", ALL, "gzip"],
    ["gzip;q=0", ALL, "identity"],
    ["identity;q=0, gzip;q=0", ALL, null],
    ["*;q=0", ALL, null],
    ["*;q=0, identity", ALL, "identity"],
    ["br;q=0, identity;q=0, gzip;q=0.5", ALL, "gzip"],
  ];
  for (const [header, offered, expected] of cases) {
    assert.equal(choose(header, offered), expected, `${header} offering ${offered}`);
  }
});

Deno.test("malformed q-values are ignored, repeated codings keep the lowest q", () => {
  const accept = parseAcceptEncoding("gzip;q=2, br;q=abc, zstd;q=0.1234, deflate;q=0.5;x=1")!;
  assert.equal(weightOf(accept, "gzip"), 1);
  assert.equal(weightOf(accept, "br"), 1);
  assert.equal(weightOf(accept, "zstd"), 1);
  assert.equal(weightOf(accept, "deflate"), 0.5);
  const repeated = parseAcceptEncoding("gzip, gzip;q=0")!;
  assert.equal(weightOf(repeated, "gzip"), 0);
});

Deno.test("identity is acceptable unless excluded by name or by *;q=0", () => {
  assert.ok(weightOf(parseAcceptEncoding("gzip")!, "identity") > 0);
  assert.ok(weightOf(parseAcceptEncoding("")!, "identity") > 0);
  assert.equal(weightOf(parseAcceptEncoding("identity;q=0")!, "identity"), 0);
  assert.equal(weightOf(parseAcceptEncoding("*;q=0")!, "identity"), 0);
  assert.equal(weightOf(parseAcceptEncoding("*;q=0, identity;q=0.5")!, "identity"), 0.5);
  assert.equal(weightOf(parseAcceptEncoding("gzip")!, "br"), 0);
});
