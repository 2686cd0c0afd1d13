/**
 * HTTP/2 upstreams through Gatehouse, end to end with clients Gatehouse did not write: curl over
 * h2c prior knowledge and over TLS (ALPN h2) and HTTP/1.1 to `h2c://` servers and to `https://`
 * servers with `protocol: h2`; response trailers reaching an HTTP/2 client and an HTTP/1.1 one
 * that sent `TE: trailers`; h2load's many streams sharing few upstream connections; an upstream
 * that is down answered 502 by the funnel.
 */
import assert from "node:assert/strict";
import { proxyFor } from "../testing/proxy.ts";
import { closedPort, waitFor, waitForSteady } from "../testing/servers.ts";
import { curl, h2load, runTool } from "../testing/h2_tools.ts";
import { h2TestServer } from "../testing/h2_server.ts";
import { rawH2Client } from "../testing/h2_frame_peer.ts";
import { FrameType } from "../proto/h2/frames.ts";
import { SettingId } from "../proto/h2/settings.ts";
import { HeaderList } from "../proto/header_list.ts";
import type { BodyReader } from "../proto/message.ts";
import { frameBytes, h2RawUpstream } from "../testing/h2_raw_upstream.ts";
import { captureLog, logText } from "../testing/logs.ts";

Deno.test("h2c:// upstream: curl over h2c, TLS and HTTP/1.1 reach it, trailers come back", async () => {
  await using up = await h2TestServer({ tls: false });
  await using gw = await proxyFor([`h2c://127.0.0.1:${up.port}`]);
  const h2c = await curl(["--http2-prior-knowledge", `http://127.0.0.1:${gw.port("web")}/`]);
  assert.deepEqual([h2c.status, h2c.version, h2c.body], [200, "2", "hello from gatehouse h2\n"]);
  const tls = await curl([
    "--http2",
    "--cacert",
    gw.certs.caCertPath,
    `https://localhost:${gw.port("websecure")}/trailers`,
  ]);
  assert.deepEqual([tls.status, tls.version], [200, "2"]);
  assert.match(tls.body, /^with trailers\n/);
  // curl prints the trailer section after the body (-D -).
  assert.match(tls.body, /x-trailer: done\r\n/);
  assert.match(tls.body, /grpc-status: 0\r\n/);
  const h1 = await runTool("curl", [
    "-sS",
    "--http1.1",
    "--raw",
    "-i",
    "-H",
    "te: trailers",
    `http://127.0.0.1:${gw.port("web")}/trailers`,
  ]);
  assert.equal(h1.code, 0, h1.stderr);
  assert.match(h1.stdout, /transfer-encoding: chunked\r\n/i);
  assert.match(h1.stdout, /\r\n0\r\n(?:.*\r\n)*x-trailer: done\r\n/);
  const posted = await curl([
    "--http2-prior-knowledge",
    "--data-binary",
    "ping",
    `http://127.0.0.1:${gw.port("web")}/echo`,
  ]);
  assert.deepEqual([posted.status, posted.body], [200, "ping"]);
  assert.equal(gw.outcomes.length, 4);
  // Every request went on the one upstream connection.
  assert.equal(up.accepted, 1);
});

Deno.test("https:// upstream with protocol h2: ALPN h2, the server's stream limit respected", async () => {
  await using up = await h2TestServer({ tls: true, engine: { maxConcurrentStreams: 8 } });
  await using gw = await proxyFor([`https://127.0.0.1:${up.port}`], {
    service: "protocol: h2, tls: { ca_file: ca.crt, server_name: localhost }",
  });
  const res = await curl(["--http2-prior-knowledge", `http://127.0.0.1:${gw.port("web")}/`]);
  assert.deepEqual([res.status, res.body], [200, "hello from gatehouse h2\n"]);
  const load = await h2load(`http://127.0.0.1:${gw.port("web")}/bytes/2000`, {
    requests: 400,
    clients: 2,
    streams: 20,
  });
  assert.equal(load.failed + load.errored + load.timeout, 0, load.output);
  assert.equal(load.status2xx, 400, load.output);
  assert.equal(up.stats.refusedStreams, 0);
  // 40 streams at once over a limit of 8: a few connections, not one per request.
  assert.ok(up.accepted >= 2 && up.accepted <= 10, `${up.accepted} upstream connections`);
});

Deno.test("an h2c:// upstream that is down is answered 502 by the funnel", async () => {
  await using gw = await proxyFor([`h2c://127.0.0.1:${closedPort()}`]);
  const res = await curl(["--http2-prior-knowledge", `http://127.0.0.1:${gw.port("web")}/`]);
  assert.equal(res.status, 502);
  assert.equal(gw.outcomes[0].status, 502);
});

Deno.test("a client that stops reading holds an h2c upstream's endless stream back (gRPC server streaming)", async () => {
  let pulled = 0;
  const chunk = new Uint8Array(16 * 1024);
  await using up = await h2TestServer({
    tls: false,
    onRequest: (req) => {
      const endless: BodyReader = {
        length: -1,
        read: () => {
          pulled += chunk.length;
          return Promise.resolve(chunk);
        },
        cancel: () => {},
      };
      const headers = HeaderList.from([["content-type", "application/grpc"]]);
      void req.respond({ status: 200, headers, body: endless }).catch(() => {});
    },
  });
  await using gw = await proxyFor([`h2c://127.0.0.1:${up.port}`]);
  // Window 0 for every stream: the client takes nothing of what it asked for.
  await using peer = await rawH2Client(gw.port("web"), [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
  const stream = await peer.request("POST", "/echo.Echo/Stream", false, [
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === stream);
  // The upstream sends only what Gatehouse's window toward it lets through, then waits.
  await waitForSteady(() => pulled, "the upstream to be held back");
  assert.ok(pulled < 32 * 1024 * 1024, `the upstream sent ${pulled} bytes`);
  // The stream is alive, not reset: a window update lets data flow again.
  const before = pulled;
  await peer.send(
    { type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 4 * 1024 * 1024 },
    { type: FrameType.WINDOW_UPDATE, streamId: stream, increment: 4 * 1024 * 1024 },
  );
  await waitFor(() => pulled > before, "the upstream to send again");
});

Deno.test("an h2c upstream's DATA before its response head is a 502 at once, not a request left waiting", async () => {
  await using up = h2RawUpstream((req, reply) =>
    reply.send(frameBytes([{
      type: FrameType.DATA,
      streamId: req.streamId,
      endStream: true,
      data: new TextEncoder().encode("k"),
      flowLength: 1,
    }]))
  );
  await using gw = await proxyFor([up.url], { config: "timeouts: { response_header: 10s }" });
  const res = await fetch(gw.url("/"), { signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
  assert.equal(res.status, 502);
  assert.equal(gw.outcomes[0].error, "malformed HTTP/2 response: DATA before the response head");
});

Deno.test("an h2c upstream connection whose request failed takes no new request until a PING comes back", async () => {
  await using log = await captureLog("upstream");
  // "/stuck" is answered with a DATA frame header announcing 1000 bytes, and none of them: the
  // connection's reader then waits for bytes that never come (the PING answer is taken for some
  // of them), and so would every later stream on it.
  await using up = h2RawUpstream((req, reply) => {
    const path = req.fields.find(([n]) => n === ":path")?.[1];
    if (path === "/stuck") {
      return reply.send(Uint8Array.of(0, 0x03, 0xe8, 0, 0, 0, 0, 0, req.streamId));
    }
    return reply.send(frameBytes([
      {
        type: FrameType.HEADERS,
        streamId: req.streamId,
        endStream: false,
        endHeaders: true,
        block: reply.block([[":status", "200"], ["content-length", "2"]]),
      },
      {
        type: FrameType.DATA,
        streamId: req.streamId,
        endStream: true,
        data: new TextEncoder().encode("ok"),
        flowLength: 2,
      },
    ]));
  });
  await using gw = await proxyFor([up.url], {
    config: "timeouts: { response_header: 300ms, connect: 1s }",
  });
  const stuck = await fetch(gw.url("/stuck"));
  await stuck.body?.cancel();
  assert.equal(stuck.status, 504);
  // The next request goes on another connection, and is answered.
  const ok = await fetch(gw.url("/ok"), { signal: AbortSignal.timeout(5000) });
  assert.deepEqual([ok.status, await ok.text()], [200, "ok"]);
  // The stuck connection's PING is never answered: it is closed within the connect timeout, and
  // the log says why.
  await waitFor(() => gw.runtime.upstreams.size === 1, "the stuck connection to close");
  assert.deepEqual(log.records.filter((r) => r.level === "warning").map(logText), [
    "Closing an HTTP/2 connection of service app: a request on it failed and it answered no " +
    "PING within 1000 ms (a stuck or broken server)",
  ]);
});
