/**
 * Fixtures for the compression tests: a JSON body and its encodings, an upstream that answers
 * each compression case by path, curl as a real client, and decoding with node:zlib.
 *
 * @module
 */
import zlib from "node:zlib";
import { type HttpUpstream, httpUpstream } from "../../testing/servers.ts";

/** About 40 KiB of JSON: compressible, above min_size. */
export const JSON_BODY = new TextEncoder().encode(JSON.stringify(
  Array.from({ length: 800 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ["a", "b", i % 7] })),
));

/** JSON_BODY as an upstream that precompresses would send it (level 9: not what we make). */
export const ENCODED: Readonly<Record<string, Uint8Array<ArrayBuffer>>> = {
  gzip: new Uint8Array(zlib.gzipSync(JSON_BODY, { level: 9 })),
  br: new Uint8Array(zlib.brotliCompressSync(JSON_BODY)),
  zstd: new Uint8Array(zlib.zstdCompressSync(JSON_BODY)),
  deflate: new Uint8Array(zlib.deflateSync(JSON_BODY)),
  "x-gzip": new Uint8Array(zlib.gzipSync(JSON_BODY)),
};

/** Removes one content coding (or none for null/"identity"). */
export function decode(coding: string | null, bytes: Uint8Array): Uint8Array {
  switch (coding) {
    case null:
    case "identity":
      return bytes;
    case "gzip":
    case "x-gzip":
      return new Uint8Array(zlib.gunzipSync(bytes));
    case "br":
      return new Uint8Array(zlib.brotliDecompressSync(bytes));
    case "zstd":
      return new Uint8Array(zlib.zstdDecompressSync(bytes));
    case "deflate":
      return new Uint8Array(zlib.inflateSync(bytes));
    default:
      throw new Error(`Cannot decode "${coding}" in a test`);
  }
}

const JSON_TYPE = { "content-type": "application/json" };

/**
 * The upstream for compression tests, answering by path:
 * - `/json`: JSON_BODY with a strong ETag, Vary: Origin, Accept-Ranges and a Content-MD5
 * - `/encoded/<coding>`: JSON_BODY precompressed with that coding, strong ETag
 * - `/small`: 100 bytes of text; `/png`: 20 KiB image/png; `/untyped`: no Content-Type
 * - `/stream`: 600 bytes of text in 3 chunks, length unknown
 * - `/hang`: 600 bytes of text, then nothing until the response is cancelled
 * - `/hang-br`: the first half of ENCODED.br (Content-Encoding: br), then nothing, likewise
 * - `/no-transform`, `/vary-star`, `/vary-ae`, `/weak-etag`: JSON_BODY with those headers
 * - `/range`: 206 with Content-Range; `/unsatisfiable`: 416 with Content-Range
 * - `/empty`: 204; `/not-modified`: 304 with ETag "v1"
 * - anything else: JSON_BODY
 */
export function compressionUpstream(): HttpUpstream {
  return httpUpstream((req) => {
    const path = new URL(req.url).pathname.replace(/^\/(off|gzip-first)/, "");
    if (path.startsWith("/encoded/")) {
      const coding = path.slice("/encoded/".length);
      return new Response(ENCODED[coding], {
        headers: {
          ...JSON_TYPE,
          "content-encoding": coding,
          etag: '"v1"',
          vary: "Accept-Encoding",
        },
      });
    }
    switch (path) {
      case "/json":
        return new Response(JSON_BODY, {
          headers: {
            ...JSON_TYPE,
            etag: '"v1"',
            vary: "Origin",
            "accept-ranges": "bytes",
            "content-md5": "c3VyZWx5IG5vdCByZWFs",
          },
        });
      case "/small":
        return new Response("s".repeat(100), { headers: { "content-type": "text/plain" } });
      case "/png":
        return new Response(new Uint8Array(20_000), { headers: { "content-type": "image/png" } });
      case "/untyped":
        return new Response(JSON_BODY);
      case "/stream":
        return new Response(
          ReadableStream.from(["a".repeat(200), "b".repeat(200), "c".repeat(200)])
            .pipeThrough(new TextEncoderStream()),
          { headers: { "content-type": "text/plain" } },
        );
      case "/hang":
        return new Response(
          new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(600).fill(104)) }),
          { headers: { "content-type": "text/plain" } },
        );
      case "/hang-br":
        return new Response(
          new ReadableStream({
            start: (c) => c.enqueue(ENCODED.br.slice(0, ENCODED.br.length / 2)),
          }),
          { headers: { ...JSON_TYPE, "content-encoding": "br" } },
        );
      case "/no-transform":
        return new Response(JSON_BODY, {
          headers: { ...JSON_TYPE, "cache-control": "public, max-age=60, no-transform" },
        });
      case "/vary-star":
        return new Response(JSON_BODY, { headers: { ...JSON_TYPE, vary: "*" } });
      case "/vary-ae":
        return new Response(JSON_BODY, {
          headers: { ...JSON_TYPE, vary: "accept-encoding, Origin" },
        });
      case "/weak-etag":
        return new Response(JSON_BODY, { headers: { ...JSON_TYPE, etag: 'W/"w1"' } });
      case "/range":
        return new Response(JSON_BODY.slice(0, 2000), {
          status: 206,
          headers: { ...JSON_TYPE, "content-range": `bytes 0-1999/${JSON_BODY.length}` },
        });
      case "/unsatisfiable":
        return new Response("x".repeat(2000), {
          status: 416,
          headers: { "content-type": "text/plain", "content-range": `bytes */${JSON_BODY.length}` },
        });
      case "/empty":
        return new Response(null, { status: 204, headers: JSON_TYPE });
      case "/not-modified":
        return new Response(null, { status: 304, headers: { etag: '"v1"' } });
      default:
        return new Response(JSON_BODY, { headers: JSON_TYPE });
    }
  });
}

/** What curl received: status, lowercase header fields, and the body bytes as sent. */
export interface CurlResult {
  readonly status: number;
  readonly version: string;
  readonly headers: Map<string, string>;
  readonly body: Uint8Array;
}

/** Runs curl with `args` (add -H, --compressed, --http2, ...) and parses its `-i` output. */
export async function curl(url: string, ...args: string[]): Promise<CurlResult> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "-i", "--max-time", "10", ...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`curl ${url} failed: ${new TextDecoder().decode(out.stderr)}`);
  const bytes = out.stdout;
  let end = -1;
  for (let i = 0; i + 3 < bytes.length && end < 0; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      end = i;
    }
  }
  if (end < 0) throw new Error(`curl ${url} printed no response head`);
  const [statusLine, ...lines] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const [version, status] = statusLine.split(" ");
  return { status: Number(status), version, headers, body: bytes.subarray(end + 4) };
}
