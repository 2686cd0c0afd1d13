/**
 * HPACK cost per header block for a typical browser request and API response, with a warm dynamic
 * table (the steady state of a keep-alive connection): `deno bench proxy/proto/h2/hpack/`.
 *
 * @module
 */
import { type DecodedFields, HpackDecoder } from "./decoder.ts";
import { HpackEncoder } from "./encoder.ts";

const REQUEST: [string, string][] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":authority", "shop.example.com"],
  [":path", "/api/v1/items?page=2&sort=price"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
  ["accept", "application/json, text/plain, */*"],
  ["accept-language", "en-GB,en;q=0.7"],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["referer", "https://shop.example.com/catalogue"],
  ["cookie", "session=9f2c1e7a4b; theme=dark; consent=analytics%3Dfalse"],
  ["sec-fetch-mode", "cors"],
];

const RESPONSE: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/json; charset=utf-8"],
  ["content-length", "4821"],
  ["date", "Tue, 08 Dec 2026 10:21:33 GMT"],
  ["cache-control", "private, max-age=0"],
  ["vary", "Accept-Encoding"],
  ["x-request-id", "7c0e9b1d-5f3a-4c55-9a61-2f8e4d3b7a10"],
  ["server", "gatehouse"],
];

function encoded(list: [string, string][], rounds: number): Uint8Array[] {
  const enc = new HpackEncoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < rounds; i++) {
    enc.begin();
    for (const [n, v] of list) enc.add(n, v);
    out.push(enc.finish().slice());
  }
  return out;
}

function bench(list: [string, string][], what: string) {
  const enc = new HpackEncoder();
  Deno.bench(`encode ${what} (warm table)`, { group: what }, () => {
    enc.begin();
    for (let i = 0; i < list.length; i++) enc.add(list[i][0], list[i][1]);
    enc.finish();
  });
  // The first block fills the decoder's table; later blocks are what a connection sees.
  const [first, warm] = encoded(list, 2);
  const dec = new HpackDecoder();
  const sink: DecodedFields = { names: [], values: [], sensitive: null };
  dec.decode(first, 0, first.length, sink, 65536);
  Deno.bench(`decode ${what} (warm table)`, { group: what }, () => {
    const out: DecodedFields = { names: [], values: [], sensitive: null };
    dec.decode(warm, 0, warm.length, out, 65536);
  });
  Deno.bench(`decode ${what} (first on a connection)`, { group: what }, () => {
    const out: DecodedFields = { names: [], values: [], sensitive: null };
    new HpackDecoder().decode(first, 0, first.length, out, 65536);
  });
}

bench(REQUEST, "request");
bench(RESPONSE, "response");
