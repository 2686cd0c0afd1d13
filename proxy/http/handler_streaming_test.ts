import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { connect, proxyFor, tlsClient } from "../testing/proxy.ts";
import { rawResponse, rawUpstream, waitFor } from "../testing/servers.ts";
import { field, readHead, readResponse } from "../testing/wire.ts";

const EVENTS = 4;
const EVENT_GAP_MS = 300;

/** An SSE upstream: EVENTS events, EVENT_GAP_MS apart, chunked; records when it wrote each. */
function sseUpstream() {
  const written: number[][] = [];
  const up = rawUpstream(async (_req, conn) => {
    const times: number[] = [];
    written.push(times);
    await conn.write(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n",
    );
    for (let i = 0; i < EVENTS; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, EVENT_GAP_MS));
      const event = `id: ${i}\ndata: event ${i}\n\n`;
      times.push(performance.now());
      await conn.write(`${event.length.toString(16)}\r\n${event}\r\n`);
    }
    await conn.write("0\r\n\r\n");
  });
  return Object.assign(up, { written });
}

/** Reads an event stream; the time each event arrived, in order. */
async function eventArrivals(res: Response): Promise<{ data: string; at: number }[]> {
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const out: { data: string; at: number }[] = [];
  let text = "";
  for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
    const at = performance.now();
    text += chunk;
    let end: number;
    while ((end = text.indexOf("\n\n")) >= 0) {
      out.push({ data: /^data: (.*)$/m.exec(text.slice(0, end))![1], at });
      text = text.slice(end + 2);
    }
  }
  return out;
}

function assertOnTime(arrivals: { data: string; at: number }[], written: number[]): void {
  assert.deepEqual(arrivals.map((a) => a.data), [...Array(EVENTS).keys()].map((i) => `event ${i}`));
  arrivals.forEach(({ at }, i) => {
    const delay = at - written[i];
    assert.ok(delay < 200, `event ${i} arrived ${delay.toFixed(0)} ms after it was written`);
    // Not batched: each event is in the client's hands before the next one exists.
    if (i + 1 < EVENTS) assert.ok(at < written[i + 1], `event ${i} held back until the next`);
  });
}

Deno.test("server-sent events reach an HTTP/1.1 client one by one as they are written", async () => {
  await using up = sseUpstream();
  await using gw = await proxyFor([up.url]);
  using client = await tlsClient("1.1");
  const res = await fetch(gw.url("/events", "websecure"), { client });
  assertOnTime(await eventArrivals(res), up.written[0]);
});

Deno.test("server-sent events reach an h2 client one by one as they are written", async () => {
  await using up = sseUpstream();
  await using gw = await proxyFor([up.url]);
  using client = await tlsClient("2");
  const res = await fetch(gw.url("/events", "websecure"), { client });
  assertOnTime(await eventArrivals(res), up.written[0]);
});

const TEXT = "Gatehouse passes compressed bodies through untouched. ".repeat(200);
const GZIPPED = new Uint8Array(gzipSync(new TextEncoder().encode(TEXT)));

/** An upstream that always answers gzip, with a length or chunked (path "/chunked"). */
function gzipUpstream() {
  return rawUpstream(async (req, conn) => {
    const fields: [string, string][] = [
      ["Content-Type", "text/plain"],
      ["Content-Encoding", "gzip"],
      ["Vary", "Accept-Encoding"],
    ];
    if (req.target !== "/chunked") {
      await conn.write(rawResponse(200, fields, GZIPPED));
      return;
    }
    const head = fields.map(([n, v]) => `${n}: ${v}\r\n`).join("");
    await conn.write(`HTTP/1.1 200 OK\r\n${head}Transfer-Encoding: chunked\r\n\r\n`);
    for (const part of [GZIPPED.subarray(0, 100), GZIPPED.subarray(100)]) {
      await conn.write(`${part.length.toString(16)}\r\n`);
      await conn.write(part);
      await conn.write("\r\n");
    }
    await conn.write("0\r\n\r\n");
  });
}

Deno.test("a gzip response reaches an HTTP/1.1 client byte for byte with its headers", async () => {
  await using up = gzipUpstream();
  await using gw = await proxyFor([up.url]);
  for (const target of ["/fixed", "/chunked"]) {
    using c = await connect(gw.port());
    await c.send(`GET ${target} HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip\r\n\r\n`);
    const res = await readResponse(c.reader);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, GZIPPED, target);
    assert.equal(field(res, "content-encoding"), "gzip");
    assert.equal(field(res, "vary"), "Accept-Encoding");
    if (target === "/fixed") assert.equal(field(res, "content-length"), String(GZIPPED.length));
    else assert.equal(field(res, "transfer-encoding"), "chunked");
  }
});

Deno.test("a gzip response reaches an h2 client byte for byte with its headers", async () => {
  await using up = gzipUpstream();
  // Compression off: Gatehouse would decode gzip for a client that accepts only identity.
  await using gw = await proxyFor([up.url], { route: "compression: false" });
  using client = await tlsClient("2");
  // "identity" keeps fetch from decoding; the upstream sends gzip regardless.
  const headers = { "accept-encoding": "identity" };
  const res = await fetch(gw.url("/fixed", "websecure"), { client, headers });
  assert.deepEqual(await res.bytes(), GZIPPED);
  assert.equal(res.headers.get("content-encoding"), "gzip");
  assert.equal(res.headers.get("content-length"), String(GZIPPED.length));
  // And a client that asks for gzip gets the same body, decoded only by itself.
  const decoded = await fetch(gw.url("/chunked", "websecure"), { client });
  assert.equal(await decoded.text(), TEXT);
});

Deno.test("a client that leaves during a streamed response: upstream closed, proxy unharmed", async () => {
  let upstreamEnded = false;
  const chunk = "x".repeat(256 * 1024);
  await using up = rawUpstream(async (_req, conn) => {
    try {
      await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      const until = performance.now() + 5000;
      while (performance.now() < until) {
        await conn.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        await new Promise((r) => setTimeout(r, 2));
      }
    } catch {
      upstreamEnded = true;
    }
  });
  await using gw = await proxyFor([up.url]);
  for (let round = 0; round < 10; round++) {
    upstreamEnded = false;
    using c = await connect(gw.port());
    await c.send("GET /stream HTTP/1.1\r\nHost: a.test\r\n\r\n");
    const buf = new Uint8Array(64 * 1024);
    let got = 0;
    while (got < 100_000) got += (await c.conn.read(buf)) ?? 0;
    // Stop reading until the proxy's write to this client is stuck on a full socket, then
    // leave: the write under way fails while the proxy also waits for the upstream.
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    // The proxy's next writes fail while it waits for the upstream's next chunk; it must end
    // the upstream exchange and carry on (before the fix, the pending read's rejection was left
    // unhandled, and that ends a Deno process).
    await waitFor(() => upstreamEnded, "the upstream connection to be closed", 4000);
  }
  using again = await connect(gw.port());
  await again.send("GET /stream HTTP/1.1\r\nHost: a.test\r\n\r\n");
  assert.equal((await readHead(again.reader))?.startLine, "HTTP/1.1 200 OK");
});
