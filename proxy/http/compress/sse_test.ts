/**
 * Server-sent events through gzip arrive as they are written: the stage flushes the codec after
 * every upstream chunk. Timing test (the issue asks for it), with wide margins.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { connect, proxyFor, tlsClient } from "../../testing/proxy.ts";
import { httpUpstream } from "../../testing/servers.ts";
import { field, latin1, readHead, type WireReader } from "../../testing/wire.ts";

const EVENTS = 4;
const INTERVAL_MS = 300;

/** An upstream writing one event every 300 ms; records when each was written. */
function eventUpstream(written: number[]) {
  return httpUpstream(() => {
    let n = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = () => {
          written.push(performance.now());
          controller.enqueue(new TextEncoder().encode(`id: ${n}\ndata: event ${n}\n\n`));
          if (++n === EVENTS) controller.close();
          else timer = setTimeout(send, INTERVAL_MS);
        };
        send();
      },
      cancel: () => clearTimeout(timer),
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  });
}

/** Decodes what gzip bytes arrived so far (a flushed stream decodes up to its last flush). */
function gunzipSoFar(bytes: Uint8Array): string {
  return zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
}

/** Reads chunked gzip data; calls `arrived(i)` the moment event i can be decoded. */
async function readEvents(reader: WireReader, arrived: (i: number) => void): Promise<string> {
  let wire = new Uint8Array(0);
  let seen = 0;
  while (true) {
    const size = parseInt(latin1((await reader.readUntil("\r\n"))!), 16);
    if (size === 0) break;
    wire = new Uint8Array(Buffer.concat([wire, await reader.readExactly(size)]));
    await reader.readExactly(2);
    const text = gunzipSoFar(wire);
    while (seen < EVENTS && text.includes(`data: event ${seen}\n\n`)) arrived(seen++);
  }
  return gunzipSoFar(wire);
}

Deno.test("each server-sent event goes through gzip as soon as the upstream writes it", async () => {
  const written: number[] = [];
  await using up = eventUpstream(written);
  await using gw = await proxyFor([up.url]);
  using c = await connect(gw.port());
  const start = performance.now();
  await c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n");
  const head = (await readHead(c.reader))!;
  assert.equal(field(head, "content-encoding"), "gzip");
  const arrivals: number[] = [];
  const text = await readEvents(c.reader, () => arrivals.push(performance.now()));
  assert.equal(arrivals.length, EVENTS, text);
  assert.ok(arrivals[0] - start < 200, `first event after ${arrivals[0] - start} ms`);
  for (let i = 0; i < EVENTS; i++) {
    const delay = arrivals[i] - written[i];
    assert.ok(delay < 200, `event ${i} arrived ${delay.toFixed(0)} ms after it was written`);
  }
  for (let i = 1; i < EVENTS; i++) {
    const gap = arrivals[i] - arrivals[i - 1];
    assert.ok(gap > INTERVAL_MS - 150 && gap < INTERVAL_MS + 150, `gap ${i}: ${gap} ms`);
  }
});

Deno.test("server-sent events through gzip over HTTP/2 are not held back either", async () => {
  const written: number[] = [];
  await using up = eventUpstream(written);
  await using gw = await proxyFor([up.url]);
  using client = await tlsClient("2");
  const start = performance.now();
  const res = await fetch(gw.url("/events", "websecure"), {
    client,
    headers: { "accept-encoding": "gzip" },
  });
  assert.equal(res.headers.get("content-encoding"), "gzip");
  const arrivals: number[] = [];
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk, { stream: true });
    while (arrivals.length < EVENTS && text.includes(`data: event ${arrivals.length}\n\n`)) {
      arrivals.push(performance.now());
    }
  }
  assert.equal(arrivals.length, EVENTS, text);
  assert.ok(arrivals[0] - start < 200, `first event after ${arrivals[0] - start} ms`);
  for (let i = 0; i < EVENTS; i++) {
    const delay = arrivals[i] - written[i];
    assert.ok(delay < 200, `event ${i} arrived ${delay.toFixed(0)} ms after it was written`);
  }
});
