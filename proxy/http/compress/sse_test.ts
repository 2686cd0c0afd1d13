/**
 * Server-sent events through gzip arrive as they are written: the stage flushes the codec after
 * every upstream chunk. Lockstep, no clock: the upstream writes event n+1 only once the client
 * has decoded event n, so a codec that held a chunk back would stall the stream (bounded wait).
 * A client that leaves such a stream gives its encoder's budget back.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { connect, proxyFor, tlsClient } from "../../testing/proxy.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { codecMemory } from "./codecs.ts";
import { field, latin1, readHead, type WireReader } from "../../testing/wire.ts";

const EVENTS = 4;
/** How long the upstream waits for the client to see an event before it gives up. */
const PATIENCE_MS = 10_000;

/** Resolves `seen(i)` when the client decoded event i; the upstream waits on it. */
class Lockstep {
  readonly #waiters: PromiseWithResolvers<void>[] = [];
  constructor() {
    for (let i = 0; i < EVENTS; i++) this.#waiters.push(Promise.withResolvers());
  }
  seen(i: number): void {
    this.#waiters[i].resolve();
  }
  /** Waits for event i to reach the client; rejects after PATIENCE_MS. */
  async awaitSeen(i: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`event ${i} did not reach the client: held back by the proxy`)),
        PATIENCE_MS,
      );
    });
    try {
      await Promise.race([this.#waiters[i].promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** An upstream writing event n+1 only once the client saw event n. */
function eventUpstream(step: Lockstep) {
  return httpUpstream(() => {
    let n = 0;
    let stopped = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (n > 0) {
          try {
            await step.awaitSeen(n - 1);
          } catch (err) {
            if (!stopped) controller.error(err);
            return;
          }
        }
        controller.enqueue(new TextEncoder().encode(`id: ${n}\ndata: event ${n}\n\n`));
        if (++n === EVENTS) controller.close();
      },
      cancel: () => void (stopped = true),
    }, { highWaterMark: 0 });
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
  const step = new Lockstep();
  await using up = eventUpstream(step);
  await using gw = await proxyFor([up.url]);
  using c = await connect(gw.port());
  await c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n");
  const head = (await readHead(c.reader))!;
  assert.equal(field(head, "content-encoding"), "gzip");
  let arrived = 0;
  const text = await readEvents(c.reader, (i) => {
    arrived++;
    step.seen(i);
  });
  assert.equal(arrived, EVENTS, text);
});

Deno.test("server-sent events through gzip over HTTP/2 are not held back either", async () => {
  const step = new Lockstep();
  await using up = eventUpstream(step);
  await using gw = await proxyFor([up.url]);
  using client = await tlsClient("2");
  const res = await fetch(gw.url("/events", "websecure"), {
    client,
    headers: { "accept-encoding": "gzip" },
  });
  assert.equal(res.headers.get("content-encoding"), "gzip");
  let arrived = 0;
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk, { stream: true });
    while (arrived < EVENTS && text.includes(`data: event ${arrived}\n\n`)) step.seen(arrived++);
  }
  assert.equal(arrived, EVENTS, text);
});

Deno.test("a client that leaves a compressed stream gives its encoder back, over HTTP/1.1 and HTTP/2", async () => {
  const step = new Lockstep();
  await using up = eventUpstream(step);
  await using gw = await proxyFor([up.url]);
  try {
    {
      using c = await connect(gw.port());
      await c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: br\r\n\r\n");
      assert.equal(field((await readHead(c.reader))!, "content-encoding"), "br");
      assert.ok(codecMemory.available < codecMemory.total, "an encoder is out");
    }
    await waitFor(
      () => codecMemory.available === codecMemory.total,
      "the encoder back (HTTP/1.1)",
    );
    using client = await tlsClient("2");
    const left = new AbortController();
    const res = await fetch(gw.url("/events", "websecure"), {
      client,
      signal: left.signal,
      headers: { "accept-encoding": "br" },
    });
    assert.equal(res.headers.get("content-encoding"), "br");
    assert.ok(codecMemory.available < codecMemory.total, "an encoder is out");
    left.abort();
    await res.body?.cancel().catch(() => {});
    await waitFor(
      () => codecMemory.available === codecMemory.total,
      "the encoder back (HTTP/2)",
    );
  } finally {
    for (let i = 0; i < EVENTS; i++) step.seen(i);
  }
});
