import assert from "node:assert/strict";
import type { Compression } from "../../config/types.ts";
import { HeaderList } from "../../proto/header_list.ts";
import { type Plan, planCompression, type RequestFacts, typeMatches } from "./policy.ts";

const SETTINGS: Compression = {
  codecs: ["zstd", "br", "gzip"],
  levels: { gzip: 4, br: 4, zstd: 1 },
  minSize: 1024,
  types: ["text/*", "application/json", "application/*+json", "image/svg+xml"],
};

const GET: RequestFacts = { method: "GET", acceptEncoding: "gzip, br", ifNoneMatch: null };

function plan(
  fields: Record<string, string>,
  opts: { status?: number; length?: number | null; req?: Partial<RequestFacts> } = {},
  settings: Compression | null = SETTINGS,
): Plan {
  const headers = HeaderList.from(Object.entries({ "content-type": "text/html", ...fields }));
  const res = {
    status: opts.status ?? 200,
    headers,
    length: opts.length === undefined ? 5000 : opts.length,
  };
  return planCompression({ ...GET, ...opts.req }, res, settings);
}

const BR: Plan = { kind: "recode", decode: [], encode: "br" };

Deno.test("a compressible body gets the negotiated codec", () => {
  assert.deepEqual(plan({}), BR);
  assert.deepEqual(plan({}, { length: -1 }), BR);
  assert.deepEqual(plan({}, { length: 1024 }), BR);
  assert.deepEqual(plan({ "content-encoding": "identity" }), BR);
});

Deno.test("every skip rule leaves the response as it is", () => {
  const cases: [string, Plan][] = [
    ["compression off for this route", plan({}, {}, null)],
    ["HEAD request", plan({}, { req: { method: "HEAD" } })],
    ["status 100", plan({}, { status: 100 })],
    ["status 101", plan({}, { status: 101 })],
    ["status 204", plan({}, { status: 204 })],
    ["304", plan({ etag: '"a"' }, { status: 304 })],
    ["range response", plan({ "content-range": "bytes 0-9/100" }, { status: 206 })],
    ["range response", plan({ "content-range": "bytes */100" }, { status: 416 })],
    ["range response", plan({}, { status: 206 })],
    ["Cache-Control: no-transform", plan({ "cache-control": "public, No-Transform" })],
    ["no body", plan({}, { length: null })],
    ["no body", plan({}, { length: 0 })],
    ["type not compressible", plan({ "content-type": "image/png" })],
    ["type not compressible", plan({ "content-type": "application/grpc" })],
    ["type not compressible", plan({ "content-type": "" })],
    ["below min_size", plan({}, { length: 1023 })],
    ["client accepts the upstream's coding", plan({ "content-encoding": "gzip" })],
    ["client accepts the upstream's coding", plan({ "content-encoding": "br, gzip" })],
    ["client accepts the upstream's coding", plan({ "content-encoding": "x-gzip" })],
    [
      'cannot decode "compress"',
      plan({ "content-encoding": "compress" }, { req: { acceptEncoding: "br" } }),
    ],
  ];
  for (const [reason, got] of cases) assert.deepEqual(got, { kind: "keep", vary: false, reason });
  const noType = planCompression(
    GET,
    { status: 200, headers: new HeaderList(), length: 5000 },
    SETTINGS,
  );
  assert.deepEqual(noType, { kind: "keep", vary: false, reason: "type not compressible" });
});

Deno.test("a choice that depended on Accept-Encoding says so (Vary)", () => {
  assert.deepEqual(plan({}, { req: { acceptEncoding: null } }), {
    kind: "keep",
    vary: true,
    reason: "no Accept-Encoding",
  });
  assert.deepEqual(plan({}, { req: { acceptEncoding: "deflate" } }), {
    kind: "keep",
    vary: true,
    reason: "client accepts no codec",
  });
  assert.deepEqual(plan({}, { req: { acceptEncoding: "*;q=0" } }), {
    kind: "keep",
    vary: true,
    reason: "client accepts no codec",
  });
});

Deno.test("an encoding the client does not accept is decoded, then re-encoded if it can be", () => {
  const identityOnly = { req: { acceptEncoding: "identity" } };
  assert.deepEqual(plan({ "content-encoding": "gzip" }, identityOnly), {
    kind: "recode",
    decode: ["gzip"],
    encode: null,
  });
  assert.deepEqual(plan({ "content-encoding": "x-gzip" }, { req: { acceptEncoding: "br" } }), {
    kind: "recode",
    decode: ["gzip"],
    encode: "br",
  });
  assert.deepEqual(plan({ "content-encoding": "gzip, br" }, { req: { acceptEncoding: "gzip" } }), {
    kind: "recode",
    decode: ["br", "gzip"],
    encode: "gzip",
  });
  assert.deepEqual(plan({ "content-encoding": "deflate", "content-type": "image/bmp" }), {
    kind: "recode",
    decode: ["deflate"],
    encode: null,
  });
  // Size and no Accept-Encoding do not matter for an encoded body.
  assert.deepEqual(plan({ "content-encoding": "zstd" }, { length: 10, ...identityOnly }), {
    kind: "recode",
    decode: ["zstd"],
    encode: null,
  });
  assert.deepEqual(plan({ "content-encoding": "zstd" }, { req: { acceptEncoding: null } }), {
    kind: "keep",
    vary: false,
    reason: "client accepts the upstream's coding",
  });
  // no-transform wins over the client's wishes.
  assert.equal(
    plan({ "content-encoding": "gzip", "cache-control": "no-transform" }, identityOnly).kind,
    "keep",
  );
});

Deno.test("a 304 for a weak ETag Gatehouse made gets that ETag back", () => {
  const revalidate = { status: 304, length: null, req: { ifNoneMatch: 'W/"v1"' } };
  assert.deepEqual(plan({ etag: '"v1"' }, revalidate), { kind: "not-modified" });
  assert.equal(plan({ etag: '"v2"' }, revalidate).kind, "keep");
  assert.equal(plan({ etag: 'W/"v1"' }, revalidate).kind, "keep");
  assert.equal(
    plan({ etag: '"v1"' }, { ...revalidate, req: { ifNoneMatch: '"v1"' } }).kind,
    "keep",
  );
});

Deno.test("types match exactly, by type/* and by type/*+suffix", () => {
  const types = ["text/*", "application/json", "application/*+json"];
  assert.ok(typeMatches("text/html; charset=utf-8", types));
  assert.ok(typeMatches("TEXT/Event-Stream", types));
  assert.ok(typeMatches("application/json", types));
  assert.ok(typeMatches("application/problem+json", types));
  assert.ok(!typeMatches("application/+json", types));
  assert.ok(!typeMatches("application/jsonx", types));
  assert.ok(!typeMatches("image/json", types));
  assert.ok(!typeMatches("text", types));
  assert.ok(!typeMatches("textual/plain", types));
});
