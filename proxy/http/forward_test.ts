import assert from "node:assert/strict";
import { proxyFor, tlsClient } from "../testing/proxy.ts";
import {
  closedPort,
  httpUpstream,
  rawUpstream,
  type SeenRequest,
  sizeUpstream,
  waitFor,
} from "../testing/servers.ts";
import { WireReader } from "../testing/wire.ts";
import { readToEnd, tcpUpstream, text, within, writeAll } from "../testing/tcp_peers.ts";

Deno.test("a refused upstream gets a short 502 at once", async () => {
  await using gw = await proxyFor([`http://127.0.0.1:${closedPort()}`]);
  const res = await fetch(gw.url("/"));
  const body = await res.text();
  assert.equal(res.status, 502);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  assert.ok(body.length < 200 && !body.includes("127.0.0.1"), body);
  const outcome = gw.outcomes[0];
  assert.equal(outcome.status, 502);
  assert.ok(outcome.durationMs < 100, `502 after ${outcome.durationMs} ms`);
});

Deno.test("an upstream that never answers gets 504 after the route's response_header", async () => {
  await using up = rawUpstream(() => {});
  await using gw = await proxyFor([up.url], { route: "timeouts: { response_header: 500ms }" });
  const started = performance.now();
  const res = await fetch(gw.url("/"), { signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
  const elapsed = performance.now() - started;
  assert.equal(res.status, 504);
  assert.ok(elapsed >= 490 && elapsed < 2000, `504 after ${elapsed} ms`);
  // A request that was sent is not retried on a timeout: the upstream may be working on it.
  assert.equal(up.requests.length, 1);
});

Deno.test("all servers unhealthy: 503 with Retry-After, and no request reaches them", async () => {
  await using up = httpUpstream((_req, seen) =>
    new Response(null, { status: seen.target === "/health" ? 500 : 200 })
  );
  await using gw = await proxyFor([up.url], {
    service:
      "health_check: { path: /health, interval: 100ms, timeout: 50ms, unhealthy_threshold: 1 }",
  });
  await waitFor(() => up.requests.length > 0, "a health check");
  let res: Response | undefined;
  await waitFor(async () => {
    res = await fetch(gw.url("/"));
    await res.body?.cancel();
    return res.status === 503;
  }, "a 503");
  const retryAfter = Number(res!.headers.get("retry-after"));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
  const before = up.requests.filter((r) => r.target !== "/health").length;
  for (let i = 0; i < 5; i++) assert.equal((await fetch(gw.url("/"))).status, 503);
  assert.equal(up.requests.filter((r) => r.target !== "/health").length, before);
});

Deno.test("a refused first server is retried on the next, even for a POST", async () => {
  await using good = httpUpstream(async (req) => new Response(`got ${await req.text()}`));
  await using gw = await proxyFor([`http://127.0.0.1:${closedPort()}`, good.url]);
  const res = await fetch(gw.url("/"), { method: "POST", body: "payload" });
  assert.equal(await res.text(), "got payload");
  assert.equal(gw.outcomes[0].attempts, 2);
});

/** An upstream that reads each request and closes the connection without answering. */
function resettingUpstream() {
  return rawUpstream((_req, conn) => conn.close());
}

Deno.test("a POST the upstream dropped after reading is not retried: 502", async () => {
  // With a body (that cannot be sent twice) and without one (the method alone forbids it).
  for (const body of ["charge the card", undefined]) {
    await using bad = resettingUpstream();
    await using good = httpUpstream();
    await using gw = await proxyFor([bad.url, good.url]);
    const res = await fetch(gw.url("/"), { method: "POST", body });
    await res.body?.cancel();
    assert.equal(res.status, 502);
    assert.equal(bad.requests.length, 1);
    assert.equal(good.requests.length, 0);
  }
});

Deno.test("a GET the upstream dropped after reading is retried on the next server", async () => {
  await using bad = resettingUpstream();
  await using good = httpUpstream();
  await using gw = await proxyFor([bad.url, good.url]);
  const res = await fetch(gw.url("/"));
  assert.equal(await res.text(), "ok");
  assert.equal(bad.requests.length, 1);
  assert.equal(good.requests.length, 1);
  assert.equal(gw.outcomes[0].attempts, 2);
});

/** An upstream that holds every request until the proxy gives up on it; records the aborts. */
function slowUpstream() {
  const aborted: SeenRequest[] = [];
  const up = httpUpstream((_req, seen) =>
    new Promise<Response>((resolve) => {
      const timer = setTimeout(() => resolve(new Response("too late")), 5000);
      seen.signal.addEventListener("abort", () => {
        aborted.push(seen);
        clearTimeout(timer);
        resolve(new Response(null));
      });
    })
  );
  return Object.assign(up, { aborted });
}

Deno.test("a client that closes its connection aborts the upstream request (HTTP/1.1)", async () => {
  await using up = slowUpstream();
  await using gw = await proxyFor([up.url]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
  await conn.write(new TextEncoder().encode("GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n"));
  await waitFor(() => up.requests.length === 1, "the upstream request");
  conn.close();
  await waitFor(() => up.aborted.length === 1, "the upstream to see the abort");
});

Deno.test("a client that cancels its h2 stream aborts the upstream request", async () => {
  await using up = slowUpstream();
  await using gw = await proxyFor([up.url]);
  using client = await tlsClient("2");
  const abort = new AbortController();
  const pending = fetch(gw.url("/slow", "websecure"), { client, signal: abort.signal });
  await waitFor(() => up.requests.length === 1, "the upstream request");
  abort.abort();
  await assert.rejects(pending);
  await waitFor(() => up.aborted.length === 1, "the upstream to see the abort");
});

Deno.test("a client whose h2 connection drops aborts its requests upstream; they are logged 499", async () => {
  await using up = slowUpstream();
  await using gw = await proxyFor([up.url]);
  // h2load ends its connection after 1 s with the request still in flight.
  const ended = new Deno.Command("h2load", {
    args: ["-c1", "-m10", "-D", "1", `https://localhost:${gw.port("websecure")}/slow`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  await waitFor(() => up.requests.length === 10, "the upstream requests");
  await ended;
  await waitFor(() => up.aborted.length === 10, "the upstream to see the aborts");
  await waitFor(() => gw.outcomes.length === 10, "the log records");
  for (const { status, error } of gw.outcomes) {
    assert.deepEqual({ status, error }, { status: 499, error: "client went away" });
  }
});

Deno.test("a client that stops mid-upload is not counted as an upstream failure", async () => {
  await using up = sizeUpstream();
  await using gw = await proxyFor([up.url], {
    service: "retries: 0, passive_health: { max_failures: 1, window: 10s, eject_for: 30s }",
  });
  for (const framing of ["Content-Length: 1000", "Transfer-Encoding: chunked"]) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
    const head = `POST /upload HTTP/1.1\r\nHost: a.test\r\n${framing}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head + "a\r\n0123456789\r\n"));
    await waitFor(() => up.requests.length > 0, "the upload to start");
    conn.close();
    await waitFor(() => gw.outcomes.length > 0, "the upload to end");
    assert.equal(gw.outcomes.pop()!.status, 499);
    // The server is still in: a single passive failure would have ejected it.
    const res = await fetch(gw.url("/"), { method: "POST", body: "x" });
    assert.equal(await res.text(), "got 1");
    up.requests.length = 0;
    gw.outcomes.length = 0;
  }
});

Deno.test("a client whose upload stalls gets 408 body_timeout, and the upstream is not blamed", async () => {
  await using up = sizeUpstream();
  await using gw = await proxyFor([up.url], {
    route: "timeouts: { body_idle: 300ms }",
    service: "retries: 0, passive_health: { max_failures: 1, window: 10s, eject_for: 30s }",
  });
  for (const framing of ["Content-Length: 1000", "Transfer-Encoding: chunked"]) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
    const head = `POST /upload HTTP/1.1\r\nHost: a.test\r\n${framing}\r\n\r\n`;
    await writeAll(conn, head + "a\r\n0123456789\r\n");
    // The answer, then the connection closes: the rest of the body is not waited for.
    const answer = text(await within(5000, "the 408 and the close", readToEnd(conn)));
    conn.close();
    assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/, framing);
    assert.match(answer, /\r\n\r\n408 Request Timeout: the request body stopped arriving\n$/);
    const outcome = gw.outcomes.pop()!;
    assert.deepEqual([outcome.status, outcome.reason], [408, "body_timeout"]);
    // The server is still in: one failure counted against it would have ejected it.
    const res = await fetch(gw.url("/"), { method: "POST", body: "x" });
    assert.equal(await res.text(), "got 1");
    gw.outcomes.length = 0;
  }
});

Deno.test("the rest of a body the upstream did not wait for must come within header_read", async () => {
  // The upstream answers as soon as the head arrives and never reads the body.
  await using up = tcpUpstream(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    await readToEnd(conn).catch(() => null);
  });
  await using gw = await proxyFor([`http://127.0.0.1:${up.port}`], {
    config: "timeouts: { header_read: 300ms }",
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
  await writeAll(conn, "POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000\r\n\r\nhello");
  const started = performance.now();
  const answer = text(await within(5000, "the connection to close", readToEnd(conn)));
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 250, `closed after ${elapsed} ms`);
});

/** An upstream that sends the first line of its body, then nothing for 5 s; counts cancels. */
function stallingUpstream() {
  const state = { cancelled: 0 };
  const up = httpUpstream(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("first\n"));
          timer = setTimeout(() => controller.close(), 5000);
        },
        cancel() {
          state.cancelled++;
          clearTimeout(timer);
        },
      }),
    );
  });
  return Object.assign(up, { state });
}

Deno.test("a client that closes while the body streams aborts the upstream request", async () => {
  await using up = stallingUpstream();
  await using gw = await proxyFor([up.url]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
  await conn.write(new TextEncoder().encode("GET /stream HTTP/1.1\r\nHost: a.test\r\n\r\n"));
  const reader = new WireReader(conn);
  await reader.readUntil("first\n");
  conn.close();
  await waitFor(() => up.state.cancelled === 1, "the upstream to see the abort (HTTP/1.1)");

  using client = await tlsClient("2");
  const abort = new AbortController();
  const res = await fetch(gw.url("/stream", "websecure"), { client, signal: abort.signal });
  await res.body!.getReader().read();
  abort.abort();
  await waitFor(() => up.state.cancelled === 2, "the upstream to see the abort (h2)");
});
