/**
 * The compression stage through a running proxy: real upstream, real clients (raw sockets for
 * the bytes on the wire, curl, fetch).
 */
import assert from "node:assert/strict";
import { connect, type RawClient, startProxy, type TestProxy, yaml } from "../../testing/proxy.ts";
import { startGatehouse } from "../../testing/gatehouse.ts";
import { parseExposition, sampleValue } from "../../testing/prometheus.ts";
import { type HttpUpstream, waitFor } from "../../testing/servers.ts";
import { field, readHead, readResponse, type WireResponse } from "../../testing/wire.ts";
import { compressionUpstream, curl, decode, ENCODED, JSON_BODY } from "./test_helpers.ts";
import { codecMemory } from "./codecs.ts";
import { decoderBytes, encoderBytes } from "./codec_memory.ts";
import { compressionStats } from "./shortfall.ts";
import { captureLog, logText } from "../../testing/logs.ts";

const MIB = 1024 * 1024;

/** One route to `up` with `compression` (a YAML flow map) at the top level. */
function budgetConfig(up: HttpUpstream, compression: string): string {
  return yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    compression: ${compression}
    routes:
      - service: app
    services:
      app: { servers: ["${up.url}"] }
    admin: { address: "127.0.0.1:0" }
  `;
}

async function withProxy(fn: (gw: TestProxy, up: HttpUpstream) => Promise<void>): Promise<void> {
  await using up = compressionUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      - service: app
      - { service: app, match: { path: /off }, compression: false }
      - service: app
        match: { path: /gzip-first }
        compression: { codecs: [gzip, br], min_size: 0 }
    services:
      app: { servers: ["${up.url}"] }
  `);
  await fn(gw, up);
}

/** One HTTP/1.1 request on its own connection; the response as read off the socket. */
async function get(
  gw: TestProxy,
  path: string,
  fields: Record<string, string> = {},
  method = "GET",
): Promise<WireResponse> {
  using c = await connect(gw.port());
  const extra = Object.entries(fields).map(([n, v]) => `${n}: ${v}\r\n`).join("");
  await c.send(
    `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${extra}\r\n`,
  );
  return await readResponse(c.reader, method);
}

const ALL = { "Accept-Encoding": "gzip, deflate, br, zstd" };

Deno.test("each codec's bytes on the wire decode to the upstream's body", async () => {
  await withProxy(async (gw) => {
    for (const codec of ["zstd", "br", "gzip"]) {
      const res = await get(gw, "/json", { "Accept-Encoding": codec });
      assert.equal(res.status, 200);
      assert.equal(field(res, "content-encoding"), codec);
      assert.equal(field(res, "content-length"), null, codec);
      assert.equal(field(res, "transfer-encoding"), "chunked", codec);
      assert.ok(res.body.length < JSON_BODY.length / 3, `${codec}: ${res.body.length} bytes`);
      assert.deepEqual(decode(codec, res.body), JSON_BODY, codec);
    }
  });
});

Deno.test("compressing weakens the ETag, merges Vary, drops Accept-Ranges and digests", async () => {
  await withProxy(async (gw) => {
    const res = await get(gw, "/json", ALL);
    assert.equal(field(res, "content-encoding"), "zstd");
    assert.equal(field(res, "etag"), 'W/"v1"');
    assert.equal(field(res, "vary"), "Origin, Accept-Encoding");
    assert.equal(field(res, "accept-ranges"), null);
    assert.equal(field(res, "content-md5"), null);
    const weak = await get(gw, "/weak-etag", ALL);
    assert.equal(field(weak, "etag"), 'W/"w1"');
    assert.equal(field(weak, "vary"), "Accept-Encoding");
    const listed = await get(gw, "/vary-ae", ALL);
    assert.equal(field(listed, "vary"), "accept-encoding, Origin");
    const star = await get(gw, "/vary-star", ALL);
    assert.equal(field(star, "content-encoding"), "zstd");
    assert.equal(field(star, "vary"), "*");
  });
});

Deno.test("curl --compressed and fetch with Accept-Encoding get the upstream's body", async () => {
  await withProxy(async (gw) => {
    const url = `http://127.0.0.1:${gw.port()}/json`;
    const viaCurl = await curl(url, "--compressed");
    assert.equal(viaCurl.headers.get("content-encoding"), "zstd");
    assert.deepEqual(viaCurl.body, JSON_BODY);
    for (const codec of ["gzip", "br"]) {
      const res = await fetch(url, { headers: { "accept-encoding": codec } });
      assert.equal(res.headers.get("content-encoding"), codec);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), JSON_BODY, codec);
    }
    // fetch does not decode zstd: the bytes arrive as sent.
    const zstd = await fetch(url, { headers: { "accept-encoding": "zstd" } });
    assert.equal(zstd.headers.get("content-encoding"), "zstd");
    assert.deepEqual(decode("zstd", new Uint8Array(await zstd.arrayBuffer())), JSON_BODY);
  });
});

Deno.test("q-values, identity;q=0 and * choose the coding; the route's order breaks ties", async () => {
  await withProxy(async (gw) => {
    const cases: [string, string, string | null][] = [
      ["/json", "gzip;q=0.5, br;q=0.8", "br"],
      ["/json", "br;q=0.9, gzip;q=0.9", "br"],
      ["/json", "zstd;q=0, *", "br"],
      ["/json", "*;q=0.1, gzip", "gzip"],
      ["/json", "gzip;q=0.2, identity", null],
      ["/json", "identity;q=0, gzip;q=0", null],
      ["/json", "deflate", null],
      ["/json", "", null],
      ["/gzip-first/json", "br, gzip, zstd", "gzip"],
      ["/gzip-first/json", "zstd", null],
    ];
    for (const [path, accept, expected] of cases) {
      const res = await get(gw, path, { "Accept-Encoding": accept });
      const label = `${path} with "${accept}"`;
      assert.equal(field(res, "content-encoding"), expected, label);
      assert.deepEqual(decode(expected, res.body), JSON_BODY, label);
      assert.match(field(res, "vary") ?? "", /Accept-Encoding/, label);
    }
  });
});

Deno.test("every skip rule sends the upstream's bytes and length untouched", async () => {
  await withProxy(async (gw, up) => {
    const cases: [string, string, Record<string, string>][] = [
      ["no Accept-Encoding", "/json", {}],
      ["range", "/range", ALL],
      ["416 with Content-Range", "/unsatisfiable", ALL],
      ["no-transform", "/no-transform", ALL],
      ["image type", "/png", ALL],
      ["no Content-Type", "/untyped", ALL],
      ["below min_size", "/small", ALL],
      ["route compression: false", "/off/json", ALL],
    ];
    for (const [rule, path, fields] of cases) {
      const res = await get(gw, path, fields);
      const direct = await fetch(up.url + path, { headers: { "accept-encoding": "identity" } });
      const expected = new Uint8Array(await direct.arrayBuffer());
      assert.equal(field(res, "content-encoding"), null, rule);
      assert.equal(field(res, "content-length"), String(expected.length), rule);
      assert.deepEqual(res.body, expected, rule);
    }
    const head = await get(gw, "/json", ALL, "HEAD");
    assert.equal(field(head, "content-encoding"), null);
    assert.equal(field(head, "content-length"), String(JSON_BODY.length));
    const empty = await get(gw, "/empty", ALL);
    assert.equal(empty.status, 204);
    assert.equal(field(empty, "content-encoding"), null);
    const notModified = await get(gw, "/not-modified", { ...ALL, "If-None-Match": '"v1"' });
    assert.equal(notModified.status, 304);
    assert.equal(field(notModified, "content-encoding"), null);
    assert.equal(field(notModified, "etag"), '"v1"');
  });
});

Deno.test("no Accept-Encoding: not compressed, and Vary tells caches it depended on it", async () => {
  await withProxy(async (gw) => {
    const res = await get(gw, "/json");
    assert.equal(field(res, "content-encoding"), null);
    assert.equal(field(res, "vary"), "Origin, Accept-Encoding");
    assert.equal(field(res, "etag"), '"v1"');
  });
});

Deno.test("a body of unknown length is compressed whatever its size", async () => {
  await withProxy(async (gw) => {
    const res = await get(gw, "/stream", { "Accept-Encoding": "gzip" });
    assert.equal(field(res, "content-encoding"), "gzip");
    assert.equal(
      new TextDecoder().decode(decode("gzip", res.body)),
      "a".repeat(200) + "b".repeat(200) + "c".repeat(200),
    );
  });
});

Deno.test("an upstream's encoding the client accepts passes through byte for byte", async () => {
  await withProxy(async (gw, up) => {
    for (const coding of ["gzip", "br", "zstd"]) {
      for (const accept of [coding, "gzip, deflate, br, zstd"]) {
        const res = await get(gw, `/encoded/${coding}`, { "Accept-Encoding": accept });
        assert.equal(field(res, "content-encoding"), coding);
        assert.equal(field(res, "content-length"), String(ENCODED[coding].length));
        assert.equal(field(res, "etag"), '"v1"');
        assert.deepEqual(res.body, ENCODED[coding], `${coding} for "${accept}"`);
        assert.equal(up.requests.at(-1)!.headers.get("accept-encoding"), accept);
      }
      const viaCurl = await curl(
        `http://127.0.0.1:${gw.port()}/encoded/${coding}`,
        "-H",
        `Accept-Encoding: ${coding}`,
      );
      assert.deepEqual(viaCurl.body, ENCODED[coding], `curl, ${coding}`);
    }
  });
});

Deno.test("an encoding the client does not accept is decoded, or re-encoded to one it does", async () => {
  await withProxy(async (gw) => {
    for (const coding of ["gzip", "x-gzip", "deflate", "br", "zstd"]) {
      const res = await get(gw, `/encoded/${coding}`, { "Accept-Encoding": "identity" });
      assert.equal(field(res, "content-encoding"), null, coding);
      assert.equal(field(res, "content-length"), null, coding);
      assert.equal(field(res, "etag"), 'W/"v1"', coding);
      assert.deepEqual(res.body, JSON_BODY, coding);
    }
    const recoded = await get(gw, "/encoded/gzip", { "Accept-Encoding": "br;q=1, gzip;q=0" });
    assert.equal(field(recoded, "content-encoding"), "br");
    assert.deepEqual(decode("br", recoded.body), JSON_BODY);
    const handsOff = await get(gw, "/off/encoded/gzip", { "Accept-Encoding": "identity" });
    assert.equal(field(handsOff, "content-encoding"), "gzip");
    assert.deepEqual(handsOff.body, ENCODED.gzip);
  });
});

Deno.test("a 304 revalidating a compressed response carries the weak ETag the client holds", async () => {
  await withProxy(async (gw, up) => {
    const first = await get(gw, "/json", { "Accept-Encoding": "gzip" });
    const etag = field(first, "etag")!;
    assert.equal(etag, 'W/"v1"');
    const res = await get(gw, "/not-modified", {
      "Accept-Encoding": "gzip",
      "If-None-Match": etag,
    });
    assert.equal(up.requests.at(-1)!.headers.get("if-none-match"), etag);
    assert.equal(res.status, 304);
    assert.equal(field(res, "etag"), etag);
    assert.equal(field(res, "vary"), "Accept-Encoding");
  });
});

Deno.test("with compression.max_memory in use, a response goes out uncompressed, counted, and the log says why", async () => {
  await using logs = await captureLog("compression");
  await using up = compressionUpstream();
  // 3 MiB: room for one brotli 4 encoder (~2 MiB), not two.
  await using gw = await startProxy(budgetConfig(up, "{ codecs: [br], max_memory: 3MiB }"));
  assert.equal(codecMemory.total, 3 * 1024 * 1024, "the configured budget");
  const before = compressionStats().skipped;
  {
    // A response in flight holds its encoder.
    using held = await connect(gw.port());
    await held.send("GET /hang HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: br\r\n\r\n");
    assert.equal(field((await readHead(held.reader))!, "content-encoding"), "br");
    assert.equal(compressionStats().memoryBytes, encoderBytes("br", 4));

    const res = await get(gw, "/json", { "Accept-Encoding": "br" });
    assert.equal(res.status, 200);
    assert.equal(field(res, "content-encoding"), null);
    assert.match(field(res, "vary") ?? "", /accept-encoding/i);
    assert.deepEqual(res.body, JSON_BODY);
    assert.equal(compressionStats().skipped, before + 1, "counted");
    assert.match(
      logs.records.map(logText).join("\n"),
      /Sent 1 response\(s\) uncompressed: the encoder memory \(compression\.max_memory, 3 MiB per worker\) is in use/,
    );
  }
  await waitFor(() => compressionStats().memoryBytes === 0, "the encoder back");
  const again = await get(gw, "/json", { "Accept-Encoding": "br" });
  assert.equal(field(again, "content-encoding"), "br", "compressed once there is room");
});

Deno.test("a response that needs a decoder compression.max_memory cannot spare gets 503 with Retry-After, counted and logged", async () => {
  await using logs = await captureLog("compression");
  await using up = compressionUpstream();
  // 20 MiB: room for one brotli decoder (charged ~18.7 MiB for its largest window), not two.
  await using gw = await startProxy(budgetConfig(up, "{ codecs: [gzip], max_memory: 20MiB }"));
  const before = compressionStats().decodeRefused;
  {
    // The upstream ignores Accept-Encoding: gzip and sends br; Gatehouse decodes it (and
    // gzips it) while the response is in flight.
    using held = await connect(gw.port());
    await held.send("GET /hang-br HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n");
    assert.equal(field((await readHead(held.reader))!, "content-encoding"), "gzip");
    assert.ok(compressionStats().memoryBytes >= decoderBytes("br"), "the decoder is held");

    const res = await get(gw, "/encoded/br", { "Accept-Encoding": "gzip" });
    assert.equal(res.status, 503);
    assert.equal(field(res, "retry-after"), "1");
    assert.equal(compressionStats().decodeRefused, before + 1, "counted");
    assert.match(
      logs.records.map(logText).join("\n"),
      /Answered 1 response\(s\) 503: the upstream sent them br-encoded to clients that do not accept it, and decoding needs ~18\.7 MiB of compression\.max_memory \(20 MiB per worker/,
    );
    assert.equal(gw.outcomes.at(-1)?.status, 503);
  }
  await waitFor(() => compressionStats().memoryBytes === 0, "the decoder back");
  const again = await get(gw, "/encoded/br", { "Accept-Encoding": "gzip" });
  assert.equal(again.status, 200);
  assert.deepEqual(decode(field(again, "content-encoding"), again.body), JSON_BODY);
});

Deno.test("with two workers, each holds compression.max_memory of its own; the metrics sum them and follow a reload", async () => {
  await using up = compressionUpstream();
  const configText = (budget: string) =>
    budgetConfig(up, `{ codecs: [br], max_memory: ${budget} }`);
  await using gh = await startGatehouse(configText("3MiB"), true, 2);
  const value = async (name: string) =>
    sampleValue(await parseExposition(await (await fetch(gh.admin("/metrics"))).text()), name);
  assert.equal(await value("gatehouse_compression_memory_limit_bytes"), 2 * 3 * MIB);
  assert.equal(await value("gatehouse_compression_memory_bytes"), 0);
  // Responses held open until both workers hold the one brotli encoder 3 MiB has room for; the
  // kernel spreads connections over the workers, and each one past a full worker's goes plain.
  const held: RawClient[] = [];
  let compressed = 0;
  let plain = 0;
  try {
    while (compressed < 2 && held.length < 64) {
      const c = await connect(gh.port());
      held.push(c);
      await c.send("GET /hang HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: br\r\n\r\n");
      const coding = field((await readHead(c.reader))!, "content-encoding");
      if (coding === "br") compressed++;
      else plain++;
    }
    assert.equal(compressed, 2, "both workers compress one response");
    assert.equal(await value("gatehouse_compression_memory_bytes"), 2 * encoderBytes("br", 4));
    assert.equal(await value("gatehouse_compression_skipped_total"), plain);
  } finally {
    for (const c of held) c[Symbol.dispose]();
  }
  await waitFor(async () => await value("gatehouse_compression_memory_bytes") === 0, "given back");
  await Deno.writeTextFile(gh.file, configText("8MiB"));
  await waitFor(
    async () => await value("gatehouse_compression_memory_limit_bytes") === 2 * 8 * MIB,
    "the reloaded budget in both workers",
  );
});
