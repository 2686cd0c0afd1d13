import assert from "node:assert/strict";
import zlib from "node:zlib";
import { autoRequests, connectionsFor, MIN_CONNECTIONS } from "./connection_budget.ts";
import { yaml } from "../testing/proxy.ts";
import { spawnProxy } from "../testing/process.ts";
import { type MemoryCgroup, memoryCgroup, memoryCgroupVersion } from "../testing/cgroup.ts";
import { closedPort, httpUpstream, waitFor, waitForSteady } from "../testing/servers.ts";
import { readResponse, servedOrClosed, WireReader, writeAll } from "../testing/wire.ts";

const MIB = 1024 * 1024;

Deno.test("connection budget: what a memory limit holds, with one or more workers", () => {
  // (90% of the limit - 128 MiB - 48 MiB per further worker) / 64 KiB.
  assert.equal(connectionsFor(200 * MIB, 1), 832);
  assert.equal(connectionsFor(512 * MIB, 1), 5324);
  assert.equal(connectionsFor(512 * MIB, 2), 4556);
  assert.equal(connectionsFor(4096 * MIB, 4), 54630);
  assert.equal(connectionsFor(128 * MIB, 1), MIN_CONNECTIONS, "never below the floor");
  assert.equal(connectionsFor(200 * MIB, 2), MIN_CONNECTIONS);
  // compression.max_memory above its default (32 MiB) is taken off the top, in every worker.
  assert.equal(connectionsFor(512 * MIB, 1, 32 * MIB), 5324);
  assert.equal(connectionsFor(512 * MIB, 1, 16 * MIB), 5324, "less is not counted twice");
  assert.equal(connectionsFor(512 * MIB, 2, 96 * MIB), 4556 - 2 * 64 * 16);
  // Requests in flight: 128 KiB each, half as many.
  assert.equal(autoRequests(832), 416);
  assert.equal(autoRequests(MIN_CONNECTIONS), 128);
  assert.equal(autoRequests(0), 0, "no limit stays no limit");
});

/**
 * Gatehouse in `group` in front of `upstream` with `workers` workers and the admin endpoint at
 * `admin`, every limit at its default (auto).
 */
function proxyIn(group: MemoryCgroup, upstream: string, workers: number, admin: string) {
  return spawnProxy(
    (port) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:${port}" } }
      routes: [{ service: app }]
      services: { app: { servers: ["${upstream}"] } }
      workers: ${workers}
      admin: { address: "${admin}" }
    `,
    {},
    ["-A"],
    { cgroup: group.dir },
  );
}

/** The cgroup never went past the budget's 90% of its 200 MiB, and nothing was OOM-killed. */
async function assertHeld(group: MemoryCgroup): Promise<void> {
  // Its peak, not VmRSS, which counts the binary's pages charged elsewhere.
  const peak = await group.peak();
  assert.ok(peak < 180 * MIB, `the cgroup peaked at ${(peak / MIB).toFixed(1)} MiB`);
  assert.equal(await group.oomKills(), 0);
}

/**
 * 40 clients that send `Accept-Encoding: accept` and read nothing of what Gatehouse (in a 200 MiB
 * cgroup, `respond`'s upstream behind it) answers: the cgroup holds, and Gatehouse exits cleanly.
 */
async function stalledDownloads(respond: () => Response, accept: string): Promise<void> {
  await using up = httpUpstream(respond);
  await using group = await memoryCgroup(200 * MIB);
  await using gw = await proxyIn(group, up.url, 1, "off");
  const clients: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
      await writeAll(conn, `GET / HTTP/1.1\r\nHost: app\r\nAccept-Encoding: ${accept}\r\n\r\n`);
      clients.push(conn);
    }
    await waitFor(() => up.requests.length === clients.length, "every response under way", 20_000);
    await waitForSteady(() => group.peak(), "the memory to stop growing", 20_000, 500);
    await assertHeld(group);
  } finally {
    for (const conn of clients) conn.close();
  }
  assert.equal((await gw.close()).code, 0);
}

/** A request on a new connection to `port`: kept open when served, null when refused. */
function oneRequest(port: number): Promise<Deno.Conn | null> {
  return servedOrClosed(() => Deno.connect({ hostname: "127.0.0.1", port }), "app");
}

Deno.test({
  name: "connection budget: in a 200 MiB cgroup, a flood of connections is refused, not killed",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    await using up = httpUpstream();
    await using group = await memoryCgroup(200 * MIB);
    const admin = closedPort();
    // No max_connections: auto, the default. Two workers need 176 MiB of the 180 usable, so
    // the floor applies, with a warning; the limit holds across both workers.
    await using gw = await proxyIn(group, up.url, 2, `127.0.0.1:${admin}`);
    assert.match(
      gw.stderr(),
      /limits\.max_connections auto: 256 connections, but the memory limit \(200 MiB, cgroup v\d /,
    );
    const held: Deno.Conn[] = [];
    let refused = 0;
    try {
      for (let i = 0; i < MIN_CONNECTIONS + 40; i++) {
        const conn = await oneRequest(gw.port);
        if (conn === null) refused++;
        else held.push(conn);
      }
      assert.equal(held.length, MIN_CONNECTIONS, "as many as the budget, over both workers");
      assert.equal(refused, 40);
      await waitFor(
        () =>
          /Refusing connections on web: 256 connections are open \(limits\.max_connections: auto/
            .test(gw.stderr()),
        "the refusal logged",
      );
      const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      assert.match(
        metrics,
        /^gatehouse_connections_refused_total\{entrypoint="web",reason="max_connections"\} 40$/m,
      );
      assert.match(metrics, /^gatehouse_connections_limit 256$/m);
      // The connections admitted are served on.
      await writeAll(held[0], "GET / HTTP/1.1\r\nHost: app\r\n\r\n");
      assert.equal((await readResponse(new WireReader(held[0]))).status, 200);
      for (const conn of held.splice(0, 10)) conn.close();
      await waitFor(async () => {
        const conn = await oneRequest(gw.port);
        conn?.close();
        return conn !== null;
      }, "a place free again");
    } finally {
      for (const conn of held) conn.close();
    }
    assert.equal(await group.oomKills(), 0);
    assert.equal((await gw.close()).code, 0);
  },
});

/**
 * Gatehouse (one worker, every limit auto: 832 connections, 416 requests in flight) in a 200 MiB
 * cgroup, in front of an upstream that holds every request without reading its body, under
 * `h2load` with `args` making `total` requests: exactly the budget's requests reach the upstream,
 * the others get 503, and the kernel's OOM killer has nothing to do.
 */
async function stalledUpstreamFlood(args: string[], total: number): Promise<void> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  await using up = httpUpstream(async () => {
    await gate;
    return new Response("ok");
  });
  await using group = await memoryCgroup(200 * MIB);
  await using gw = await proxyIn(group, up.url, 1, "off");
  const load = new Deno.Command("h2load", {
    args: [...args, `-n${total}`, `http://127.0.0.1:${gw.port}/`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  try {
    await waitFor(() => up.requests.length >= 416, "the budget's requests at the upstream", 20_000);
    await waitFor(
      () => /416 requests are in flight \(limits\.max_requests_in_flight: auto/.test(gw.stdout()),
      "503s logged",
      20_000,
    );
    assert.equal(up.requests.length, 416, "no request past the budget reached the upstream");
    await assertHeld(group);
  } finally {
    open();
  }
  const out = new TextDecoder().decode((await load).stdout);
  assert.match(out, new RegExp(`requests: ${total} total, ${total} started, ${total} done`));
  const codes = /status codes: (\d+) 2xx, \d+ 3xx, \d+ 4xx, (\d+) 5xx/.exec(out);
  assert.ok(codes !== null, out);
  assert.equal(Number(codes[1]) + Number(codes[2]), total, out);
  assert.ok(Number(codes[2]) >= 1, "some were refused");
  assert.equal(await group.oomKills(), 0);
  assert.equal((await gw.close()).code, 0);
}

Deno.test({
  name:
    "connection budget: in a 200 MiB cgroup, thousands of HTTP/2 streams to a stalled upstream get 503, not the OOM killer",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  // 40 connections of 100 streams each, every stream held by the upstream and an upstream
  // connection of its own, took ~40 KiB a stream: 4,000 of them did not fit.
  fn: () => stalledUpstreamFlood(["-c40", "-m100"], 4000),
});

Deno.test({
  name:
    "connection budget: in a 200 MiB cgroup, HTTP/2 uploads to an upstream that stopped reading get 503, not the OOM killer",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    // 208 connections of 4 streams, each uploading 1 MiB. Every upload held more than its
    // stream window (a join buffer, chunks lent while more arrived) and the read buffers the
    // bursts allocated left ~300 MiB of garbage: 416 of them took the cgroup past 200 MiB.
    const body = await Deno.makeTempFile();
    try {
      await Deno.writeFile(body, new Uint8Array(MIB).fill(120));
      await stalledUpstreamFlood(["-c208", "-m4", "-d", body], 832);
    } finally {
      await Deno.remove(body);
    }
  },
});

Deno.test({
  name:
    "connection budget: in a 200 MiB cgroup, TCP tunnels from a flooding upstream to clients that read nothing stay within it",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    // An upstream that writes to every connection until it is closed.
    using flood = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const chunk = new Uint8Array(MIB);
    const upstreams: Deno.Conn[] = [];
    let written = 0;
    void (async () => {
      for await (const conn of flood) {
        upstreams.push(conn);
        void (async () => {
          while (true) written += await conn.write(chunk);
        })().catch(() => {});
      }
    })();
    await using group = await memoryCgroup(200 * MIB);
    const port = closedPort();
    // auto: 832 connections. Each tunnel's write to its client waits with the buffer of its
    // last read: 256 KiB each got the process OOM-killed; at most 64 of them now, 64 KiB past.
    await using gw = await spawnProxy(
      (web) =>
        yaml`
        entrypoints:
          web: { address: "127.0.0.1:${web}" }
          raw: { address: "127.0.0.1:${port}", protocol: tcp }
        tcp_routes: [{ entrypoints: [raw], service: flood }]
        services: { flood: { servers: ["tcp://127.0.0.1:${flood.addr.port}"] } }
        workers: 1
        log: { access_log: { enabled: false } }
        admin: { address: "off" }
      `,
      {},
      ["-A"],
      { cgroup: group.dir },
    );
    const clients: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 832; i++) {
        clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      await waitFor(() => upstreams.length === 832, "every tunnel at the upstream", 20_000);
      await waitForSteady(() => written, "the tunnels to stall", 30_000, 500);
      await assertHeld(group);
    } finally {
      for (const conn of [...clients, ...upstreams]) conn.close();
    }
    assert.equal((await gw.close()).code, 0);
  },
});

Deno.test({
  name:
    "connection budget: in a 200 MiB cgroup, compressed downloads to clients that read nothing stay within it",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    // 16 MiB of compressible text each. A brotli encoder whose client stopped reading held
    // 6.8 MiB (zstd 0.7, gzip 0.3): 40 of them (416 of any codec) got the process OOM-killed.
    const line = new TextEncoder().encode(
      "0123456789abcdefghijklmnopqrstuvwxyz ".repeat(28) + "\n",
    );
    const text = new Uint8Array(16 * MIB);
    for (let at = 0; at + line.length <= text.length; at += line.length) text.set(line, at);
    await stalledDownloads(
      () => new Response(text, { headers: { "content-type": "text/plain" } }),
      "br",
    );
  },
});

Deno.test({
  name:
    "connection budget: in a 200 MiB cgroup, br responses to decode for clients that read nothing stay within it",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    // An upstream that ignores Accept-Encoding and sends br with the largest window (16 MiB),
    // as precompressed objects in a store may be: each client that accepts only gzip needs a
    // decoder, which held 17 MiB while its client read nothing; 40 got the process OOM-killed.
    const line = new TextEncoder().encode("0123456789abcdefghijklmnopqrstuvwxyz ".repeat(28));
    const text = new Uint8Array(24 * MIB);
    let seed = 1;
    for (let at = 0; at + line.length <= text.length; at += line.length) {
      text.set(line, at);
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      text[at] = 97 + seed % 26; // no two lines alike: the window fills
    }
    const br = new Uint8Array(zlib.brotliCompressSync(text, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 },
    }));
    await stalledDownloads(
      () =>
        new Response(br, { headers: { "content-type": "text/plain", "content-encoding": "br" } }),
      "gzip",
    );
  },
});
