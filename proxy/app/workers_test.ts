/**
 * A multi-worker Gatehouse in the test process (`workers: 2`): metrics summed exactly over the
 * workers, passive ejection seen by every worker, reloads applied everywhere or nowhere, a worker
 * whose event loop stops reported as failed (main.ts then ends the process: Deno cannot stop it).
 * Connections are spread by the kernel (SO_REUSEPORT), so each test opens many and checks that
 * both workers took some.
 */
import assert from "node:assert/strict";
import type { GatehouseOptions } from "./gatehouse.ts";
import { requestsPerWorker, startGatehouse, type TestGatehouse } from "../testing/gatehouse.ts";
import { yaml } from "../testing/proxy.ts";
import { accepts } from "../testing/process.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { readBytes, tcpUpstream, writeAll as tcpWrite } from "../testing/tcp_peers.ts";
import { readResponse, WireReader, writeAll } from "../testing/wire.ts";

/** One request on a connection of its own; the status and body. */
async function once(port: number, path = "/"): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`);
    const res = await readResponse(new WireReader(conn));
    return { status: res.status, body: new TextDecoder().decode(res.body) };
  } finally {
    conn.close();
  }
}

/** Gatehouse on two workers with its admin endpoint, every request to one server at `url`. */
function twoWorkers(url: string) {
  return startGatehouse(
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: app }]
    services: { app: { servers: ["${url}"] } }
    admin: { address: "127.0.0.1:0" }
  `,
    false,
    2,
  );
}

Deno.test("requests served by different workers are counted exactly in one exposition", async () => {
  await using up = httpUpstream();
  await using gh = await twoWorkers(up.url);
  assert.equal(gh.gatehouse.workers, 2);
  const status = await (await fetch(gh.admin("/status"))).json();
  assert.equal(status.workers, 2);
  const n = 200;
  for (let i = 0; i < n; i += 20) {
    const batch = Array.from({ length: 20 }, () => once(gh.port()));
    for (const res of await Promise.all(batch)) assert.equal(res.status, 200);
  }
  const counts = await requestsPerWorker(gh);
  assert.equal(counts.length, 2);
  assert.ok(counts.every((c) => c > 0), `both workers served requests: ${counts}`);
  const text = await (await fetch(gh.admin("/metrics"))).text();
  const samples = await parseExposition(text);
  const total = sampleValue(samples, "gatehouse_entrypoint_requests_total", {
    entrypoint: "web",
    code: "200",
  });
  assert.equal(total, n, `${counts.join(" + ")} in the workers`);
});

Deno.test("a server that fails in one worker is ejected in every worker", async () => {
  // Server A accepts and closes at once: every request sent to it fails. B answers.
  const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of a) {
      accepted++;
      conn.close();
    }
  })();
  await using b = httpUpstream(undefined, { name: "b" });
  try {
    await using gh = await startGatehouse(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      routes: [{ service: app }]
      services:
        app:
          servers: ["http://127.0.0.1:${a.addr.port}", "${b.url}"]
          passive_health: { max_failures: 1, window: 60s, eject_for: 60s }
    `,
      false,
      2,
    );
    // One request at a time until one worker has sent one to A (and so ejected it).
    for (let i = 0; i < 20 && accepted === 0; i++) {
      assert.equal((await once(gh.port())).status, 200);
    }
    assert.equal(accepted, 1, "A was tried once");
    const before = await requestsPerWorker(gh);
    for (let i = 0; i < 100; i++) {
      const res = await once(gh.port());
      assert.equal(res.body, "b");
    }
    const after = await requestsPerWorker(gh);
    assert.ok(
      after.every((n, i) => n > before[i]),
      `both workers served requests after the ejection: ${before} -> ${after}`,
    );
    assert.equal(accepted, 1, "no worker sent another request to the ejected server");
  } finally {
    a.close();
    await serving.catch(() => {});
  }
});

Deno.test("a reload that fails (invalid file, or a port that cannot be bound) changes no worker", async () => {
  await using one = httpUpstream(undefined, { name: "one" });
  await using two = httpUpstream(undefined, { name: "two" });
  const text = (up: string, extra: string) =>
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      ${extra}
    routes: [{ service: app }]
    services: { app: { servers: ["${up}"] } }
  `;
  await using gh = await startGatehouse(text(one.url, ""), false, 2);
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = closedPort();
  try {
    const cases = [
      ["an invalid file", text(two.url, `more: { address: "127.0.0.1:${free}", protocol: bogus }`)],
      ["a port in use", text(two.url, `more: { address: "127.0.0.1:${held.addr.port}" }`)],
    ];
    for (const [what, file] of cases) {
      await Deno.writeTextFile(gh.file, file);
      const result = await gh.gatehouse.reload("test");
      assert.equal(result.ok, false, what);
      assert.ok(result.errors.length > 0, what);
      for (let i = 0; i < 40; i++) assert.equal((await once(gh.port())).body, "one", what);
      assert.equal(gh.gatehouse.port("more"), undefined, what);
    }
    assert.match(
      (await gh.gatehouse.reload("again")).errors.join("\n"),
      new RegExp(`127\\.0\\.0\\.1:${held.addr.port}`),
    );
    assert.equal(await accepts(free), false, "nothing listens on the invalid file's port");
    // The same change without the failing listener applies in every worker.
    await Deno.writeTextFile(gh.file, text(two.url, `more: { address: "127.0.0.1:0" }`));
    assert.equal((await gh.gatehouse.reload("test")).ok, true);
    const more = gh.gatehouse.port("more")!;
    const bodies = await Promise.all(Array.from({ length: 40 }, () => once(gh.port())));
    assert.deepEqual(new Set(bodies.map((r) => r.body)), new Set(["two"]));
    const onMore = await Promise.all(Array.from({ length: 40 }, () => once(more)));
    assert.deepEqual(new Set(onMore.map((r) => r.body)), new Set(["two"]));
  } finally {
    held.close();
  }
});

/** Open connections per worker of `protocol` ("websocket", "tcp"), from each worker's gauge. */
async function openPerWorker(gh: TestGatehouse, protocol: string): Promise<number[]> {
  return (await gh.gatehouse.dataSamples()).map((samples) => {
    const metric = samples.find((m) => m.name === "gatehouse_open_connections");
    return (metric?.values ?? []).filter((v) => v.labels.protocol === protocol)
      .reduce((n, v) => n + v.value, 0);
  });
}

Deno.test("WebSocket and TCP tunnels in every worker survive reloads and end with the drain", async () => {
  const wsServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  await using tcp = tcpUpstream();
  const text = (version: number, broken: boolean) =>
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      stream: { address: "127.0.0.1:0", protocol: tcp }
    routes:
      - { match: { path: /ws }, service: ws }
      - { match: { path: /v${version} }, service: ${broken ? "missing" : "ws"} }
    tcp_routes: [{ entrypoints: [stream], service: echo }]
    services:
      ws: { servers: ["http://127.0.0.1:${wsServer.addr.port}"] }
      echo: { servers: ["${tcp.url}"] }
    timeouts: { drain: 1s }
  `;
  const gh = await startGatehouse(text(0, false), false, 2);
  const sockets: WebSocket[] = [];
  const streams: Deno.Conn[] = [];
  try {
    const replies = new Map<WebSocket, string[]>();
    for (let i = 0; i < 16; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.port()}/ws`);
      replies.set(ws, []);
      ws.onmessage = (e) => replies.get(ws)!.push(String(e.data));
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      sockets.push(ws);
      streams.push(await Deno.connect({ hostname: "127.0.0.1", port: gh.port("stream") }));
    }
    const echoAll = async (what: string) => {
      for (const ws of sockets) ws.send(what);
      await waitFor(() => sockets.every((ws) => replies.get(ws)!.includes(what)), what);
      for (const conn of streams) {
        await tcpWrite(conn, what);
        assert.equal(new TextDecoder().decode(await readBytes(conn, what.length)), what);
      }
    };
    await echoAll("before");
    const ws = await openPerWorker(gh, "websocket");
    const tcpOpen = await openPerWorker(gh, "tcp");
    assert.equal(ws.reduce((a, b) => a + b), 16);
    assert.equal(tcpOpen.reduce((a, b) => a + b), 16);
    assert.ok(ws.every((n) => n > 0) || tcpOpen.every((n) => n > 0), `spread: ${ws} / ${tcpOpen}`);
    for (const [version, broken] of [[1, false], [2, true], [3, false]] as const) {
      await Deno.writeTextFile(gh.file, text(version, broken));
      assert.equal((await gh.gatehouse.reload("test")).ok, !broken);
      await echoAll(`after reload ${version}`);
    }
    const closed = sockets.map((s) => new Promise((resolve) => s.onclose = resolve));
    await gh.close();
    await Promise.all(closed);
    for (const conn of streams) {
      const n = await conn.read(new Uint8Array(16)).catch(() => null);
      assert.equal(n, null, "the drain closed the TCP session");
    }
  } finally {
    for (const conn of streams) conn.close();
    await gh.close();
    await wsServer.shutdown();
  }
});

Deno.test("a start whose port is taken fails with the usual error and leaves no worker listening", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = closedPort();
  try {
    await assert.rejects(
      startGatehouse(
        yaml`
        entrypoints:
          free: { address: "127.0.0.1:${free}" }
          taken: { address: "127.0.0.1:${held.addr.port}" }
      `,
        false,
        2,
      ),
      new RegExp(`127\\.0\\.0\\.1:${held.addr.port}`),
    );
    assert.equal(await accepts(free), false, "the entrypoint that could bind was closed again");
  } finally {
    held.close();
  }
});

Deno.test("a server the main isolate's health checks mark down gets no request from any worker", async () => {
  await using a = httpUpstream((req) =>
    new Response("a", { status: new URL(req.url).pathname === "/health" ? 503 : 200 })
  );
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: app }]
    services:
      app:
        servers: ["${a.url}", "${b.url}"]
        health_check: { path: /health, interval: 300ms, timeout: 250ms, unhealthy_threshold: 1 }
  `,
    false,
    2,
  );
  const up = () => [...gh.gatehouse.runtime.servers()].find((s) => s.url === a.url)?.up;
  await waitFor(() => up() === false, "the main isolate to mark A down");
  const served = () => a.requests.filter((r) => r.target !== "/health").length;
  const before = served();
  const bodies = await Promise.all(Array.from({ length: 60 }, () => once(gh.port())));
  assert.deepEqual(new Set(bodies.map((r) => r.body)), new Set(["b"]));
  assert.equal(served(), before, "no worker sent a request to A");
  const counts = await requestsPerWorker(gh);
  assert.ok(counts.every((n) => n > 0), `both workers served: ${counts}`);
});

Deno.test("/status sums each server's requests in flight over the workers", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  await using up = httpUpstream(async () => {
    await held;
    return new Response("done");
  });
  await using gh = await twoWorkers(up.url);
  const inflight = async () => {
    const status = await (await fetch(gh.admin("/status"))).json();
    return status.services[0].servers[0].inflight as number;
  };
  const requests = Array.from({ length: 6 }, () => once(gh.port()));
  try {
    await waitFor(() => up.requests.length === 6, "six requests at the upstream");
    assert.equal(await inflight(), 6);
  } finally {
    release();
  }
  for (const res of await Promise.all(requests)) assert.equal(res.body, "done");
  await waitFor(async () => await inflight() === 0, "no request in flight");
});

Deno.test("UDP and unix socket entrypoints, which SO_REUSEPORT cannot share, are served by the first worker", async () => {
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const echoing = (async () => {
    try {
      for (;;) {
        const [data, from] = await echo.receive();
        await echo.send(data, from);
      }
    } catch {
      // closed
    }
  })();
  await using up = httpUpstream(undefined, { name: "over unix" });
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-workers-unix-" });
  const socket = `${dir}/web.sock`;
  try {
    await using gh = await startGatehouse(
      yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
        local: { address: "unix:${socket}" }
        dgram: { address: "127.0.0.1:0", protocol: udp }
      routes: [{ service: app }]
      udp_routes: [{ entrypoints: [dgram], service: echo }]
      services:
        app: { servers: ["${up.url}"] }
        echo: { servers: ["udp://127.0.0.1:${(echo.addr as Deno.NetAddr).port}"] }
    `,
      false,
      2,
    );
    const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    try {
      const to = { transport: "udp" as const, hostname: "127.0.0.1", port: gh.port("dgram") };
      await client.send(new TextEncoder().encode("ping"), to);
      const [reply] = await client.receive();
      assert.equal(new TextDecoder().decode(reply), "ping");
    } finally {
      client.close();
    }
    const conn = await Deno.connect({ transport: "unix", path: socket });
    try {
      await writeAll(conn, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
      const res = await readResponse(new WireReader(conn));
      assert.equal(new TextDecoder().decode(res.body), "over unix");
    } finally {
      conn.close();
    }
  } finally {
    echo.close();
    await echoing;
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Two workers on one server at `url`, worker 1 spinning for 8 s at its first `at` message
 * (testing/stalling_worker.ts); `options` sets the bounds.
 */
function stallingWorkers(url: string, at: "ping" | "start", options: GatehouseOptions) {
  return startGatehouse(
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: app }]
    services: { app: { servers: ["${url}"] } }
  `,
    false,
    2,
    {
      workerModule: new URL(`../testing/stalling_worker.ts?at=${at}`, import.meta.url),
      ...options,
    },
  );
}

Deno.test("a worker whose event loop stops is reported as failed within the stall bound", async () => {
  await using up = httpUpstream();
  const { promise: failure, resolve } = Promise.withResolvers<string>();
  await using gh = await stallingWorkers(up.url, "ping", {
    workerStallMs: 1_500,
    onWorkerFailure: resolve,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((r) => timer = setTimeout(r, 10_000, "no report in 10 s"));
  const reported = await Promise.race([failure, late]);
  clearTimeout(timer);
  assert.match(
    reported,
    /^Worker 1 failed: its event loop has not answered for \d+ s \(an endless loop/,
  );
  // What main.ts does next: drain the others. The stuck one must not hold that up.
  const stopping = performance.now();
  await gh.close();
  assert.ok(performance.now() - stopping < 5_000, "the stop waited for the stuck worker");
});

Deno.test("a worker that does not answer its start fails the start within the start bound", async () => {
  await using up = httpUpstream();
  // Without the bound the start succeeds once the spin is over (8 s): no rejection at all. How
  // long the rejection takes is not asserted: in a cold clean-clone CI run the whole failed
  // start took just over 6 s, most of it loading (and type-checking) the worker modules, which
  // the bound does not count.
  await assert.rejects(
    stallingWorkers(up.url, "start", { workerStartMs: 1_500 }),
    /^Error: Cannot start worker 1: it has not answered within 1\.5 s \(an endless loop/,
  );
});
