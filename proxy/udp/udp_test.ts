/**
 * UDP forwarding end to end: dig through a UDP entrypoint to dnsmasq, 100 clients x 50
 * datagrams each receiving exactly their own replies, a 60,000-byte datagram and several replies
 * to one datagram, session expiry and the session cap, a reload that keeps a session, and the
 * config errors of the new keys.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfigText } from "../config/load.ts";
import { formatConfigError } from "../config/errors.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import { reload } from "../testing/tcp_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface UdpPeer extends AsyncDisposable {
  readonly port: number;
  /** Source ports datagrams came from, in arrival order. */
  readonly sources: number[];
}

/** A UDP server on loopback: echoes each datagram; "x3..." is echoed three times. */
function udpEcho(): UdpPeer {
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const sources: number[] = [];
  (async () => {
    try {
      for (;;) {
        const [data, from] = await socket.receive();
        sources.push((from as Deno.NetAddr).port);
        const times = dec.decode(data.subarray(0, 2)) === "x3" ? 3 : 1;
        for (let i = 0; i < times; i++) await socket.send(data, from);
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    sources,
    [Symbol.asyncDispose]: () => Promise.resolve(socket.close()),
  };
}

function client(): Deno.DatagramConn {
  return Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
}

/** The next datagram on `socket`, or null after `ms`. */
async function next(socket: Deno.DatagramConn, ms = 3000): Promise<Uint8Array | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  try {
    const got = await Promise.race([socket.receive().then(([d]) => d), timeout]);
    return got;
  } finally {
    clearTimeout(timer);
  }
}

const to = (port: number): Deno.NetAddr => ({ transport: "udp", hostname: "127.0.0.1", port });

function config(upstream: number, extra = "", route = "") {
  return yaml`
    entrypoints:
      dgram: { address: "127.0.0.1:0", protocol: udp${extra} }
    udp_routes:
      - { entrypoints: [dgram], service: echo${route} }
    services:
      echo: { servers: ["udp://127.0.0.1:${upstream}"] }
  `;
}

Deno.test("100 clients x 50 datagrams: each client receives exactly its own replies, in order", async () => {
  await using echo = udpEcho();
  await using gw = await startProxy(config(echo.port));
  const port = gw.port("dgram");
  const run = async (c: number) => {
    const socket = client();
    const got: string[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        await socket.send(enc.encode(`client ${c} datagram ${i}`), to(port));
        const reply = await next(socket);
        got.push(reply === null ? "lost" : dec.decode(reply));
        if (reply === null) break; // fail now rather than wait for every datagram
      }
    } finally {
      socket.close();
    }
    return got;
  };
  const results = await Promise.all(Array.from({ length: 100 }, (_, c) => run(c)));
  results.forEach((got, c) => {
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `client ${c} datagram ${i}`));
  });
  assert.equal(new Set(echo.sources).size, 100, "one upstream socket per client");
});

Deno.test("a 60,000-byte datagram passes whole; three replies to one datagram all arrive", async () => {
  await using echo = udpEcho();
  await using gw = await startProxy(config(echo.port));
  const socket = client();
  try {
    const big = new Uint8Array(60_000).map((_, i) => i % 251);
    await socket.send(big, to(gw.port("dgram")));
    const reply = await next(socket);
    assert.ok(reply !== null, "the big datagram came back");
    assert.equal(reply.length, 60_000);
    assert.deepEqual(reply, big);
    await socket.send(enc.encode("x3 three"), to(gw.port("dgram")));
    for (let i = 0; i < 3; i++) assert.equal(dec.decode((await next(socket))!), "x3 three");
  } finally {
    socket.close();
  }
});

Deno.test("sessions expire after the route's idle timeout, with one log record each", async () => {
  await using echo = udpEcho();
  await using gw = await startProxy(config(echo.port, "", ", timeouts: { idle: 300ms }"));
  const socket = client();
  try {
    await socket.send(enc.encode("one"), to(gw.port("dgram")));
    assert.equal(dec.decode((await next(socket))!), "one");
    await socket.send(enc.encode("two"), to(gw.port("dgram")));
    assert.equal(dec.decode((await next(socket))!), "two");
    await waitFor(() => gw.udpRecords.length === 1, "the session to expire");
    const [r] = gw.udpRecords;
    assert.equal(r.outcome, "idle");
    assert.deepEqual(
      [r.entrypoint, r.route, r.service, r.upstream, r.clientIp, r.clientPort],
      [
        "dgram",
        "dgram/udp",
        "echo",
        `udp://127.0.0.1:${echo.port}`,
        "127.0.0.1",
        (socket.addr as Deno.NetAddr).port,
      ],
    );
    assert.deepEqual([r.datagramsUp, r.bytesUp, r.datagramsDown, r.bytesDown], [2, 6, 2, 6]);
    // A datagram after expiry opens a new session, with a new upstream socket.
    await socket.send(enc.encode("three"), to(gw.port("dgram")));
    assert.equal(dec.decode((await next(socket))!), "three");
    assert.equal(new Set(echo.sources).size, 2);
  } finally {
    socket.close();
  }
});

Deno.test("the session cap: a client over max_connections gets no session, and it is counted", async () => {
  await using echo = udpEcho();
  const refusals: string[] = [];
  await using gw = await startProxy(config(echo.port, ", max_connections: 2"), {
    onRefused: (entrypoint, refusal) => refusals.push(`${entrypoint} ${refusal}`),
  });
  const sockets = [client(), client(), client()];
  try {
    for (const [i, s] of sockets.slice(0, 2).entries()) {
      await s.send(enc.encode(`in ${i}`), to(gw.port("dgram")));
      assert.equal(dec.decode((await next(s))!), `in ${i}`);
    }
    await sockets[2].send(enc.encode("over"), to(gw.port("dgram")));
    assert.equal(await next(sockets[2], 300), null, "no reply over the cap");
    assert.deepEqual(refusals, ["dgram entrypoint_max_connections"]);
    assert.deepEqual([...gw.runtime.clientConnections()].map((c) => c.protocol), ["udp", "udp"]);
  } finally {
    for (const s of sockets) s.close();
  }
});

Deno.test("a reload keeps an open session (same upstream socket) while its route exists", async () => {
  await using echo = udpEcho();
  await using gw = await startProxy(config(echo.port));
  const port = gw.port("dgram");
  const socket = client();
  try {
    await socket.send(enc.encode("before"), to(port));
    assert.equal(dec.decode((await next(socket))!), "before");
    await reload(gw, config(echo.port, "", ", timeouts: { idle: 20s }"));
    assert.equal(gw.port("dgram"), port, "the socket stays");
    await socket.send(enc.encode("after"), to(port));
    assert.equal(dec.decode((await next(socket))!), "after");
    assert.equal(echo.sources.length, 2);
    assert.equal(echo.sources[0], echo.sources[1], "the same session and upstream socket");
    assert.equal(gw.udpRecords.length, 0);
  } finally {
    socket.close();
  }
});

/** `dig +short NAME A` against 127.0.0.1:`port`; the answer, or "" when there was none. */
async function dig(port: number, name: string): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: ["+short", "+time=1", "+tries=1", "-p", String(port), "@127.0.0.1", name, "A"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.code === 0 ? dec.decode(out.stdout).trim() : "";
}

/**
 * dnsmasq on a free loopback port answering from the hosts file in `dir`, once it answers. The
 * port is free for UDP when chosen, but dnsmasq binds TCP on it too, which another test may hold:
 * a dnsmasq that exits at start is started again on another port.
 */
async function dnsmasq(dir: string): Promise<AsyncDisposable & { port: number }> {
  const hosts = join(dir, "hosts");
  await Deno.writeTextFile(hosts, "10.1.2.3 app.gatehouse.test\n");
  for (let attempt = 1;; attempt++) {
    const probe = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const child = new Deno.Command("dnsmasq", {
      args: ["--no-daemon", `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces"]
        .concat(["--no-resolv", "--no-hosts", `--addn-hosts=${hosts}`, "--user=root"])
        .concat([`--pid-file=${join(dir, "pid")}`]),
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let exited = false;
    const output = child.output().finally(() => exited = true);
    await waitFor(async () => exited || await dig(port, "app.gatehouse.test") !== "", "dnsmasq");
    if (!exited) {
      return {
        port,
        [Symbol.asyncDispose]: async () => {
          child.kill("SIGTERM");
          await output;
        },
      };
    }
    const err = dec.decode((await output).stderr);
    if (attempt === 5) throw new Error(`dnsmasq did not start: ${err}`);
  }
}

Deno.test("dig through a UDP entrypoint to dnsmasq on loopback", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-dns-" });
  try {
    await using dns = await dnsmasq(dir);
    await using gw = await startProxy(yaml`
      entrypoints:
        dns: { address: "127.0.0.1:0", protocol: udp }
      udp_routes: [{ entrypoints: [dns], service: resolver }]
      services:
        resolver: { servers: ["udp://127.0.0.1:${dns.port}"] }
    `);
    let answer = "";
    await waitFor(
      async () => (answer = await dig(gw.port("dns"), "app.gatehouse.test")) !== "",
      "dig to answer through the proxy",
      10_000,
    );
    assert.equal(answer, "10.1.2.3");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("udp config errors name the key, with what to write", async () => {
  const text = `entrypoints:
  dns: { address: ":5353", protocol: udp, tls: { certificates: [{ cert: a.crt, key: a.key }] } }
  web: { address: ":8080" }
udp_routes:
  - { entrypoints: [web], service: api }
  - { entrypoints: [dns], service: resolver, timeouts: { idle: soon } }
services:
  api: { servers: ["http://127.0.0.1:3000"] }
  resolver: { servers: ["udp://127.0.0.1"], health_check: { path: /healthz } }
`;
  const loaded = await loadConfigText(text, "/etc/gatehouse/gatehouse.yaml");
  assert.equal(loaded.ok, false);
  const lines = loaded.ok ? [] : loaded.errors.map(formatConfigError);
  for (const line of lines) assert.match(line, /^\/etc\/gatehouse\/gatehouse\.yaml:\d+:\d+ /);
  const text2 = lines.join("\n");
  assert.match(text2, /udp_routes\[1\]\.timeouts\.idle: /);
  assert.match(text2, /services\.resolver\.servers\[0\]: .*a udp:\/\/ server needs a port/);
  const fixed = text.replace("soon", "5s").replace('udp://127.0.0.1"', 'udp://127.0.0.1:53"');
  const again = await loadConfigText(fixed, "/etc/gatehouse/gatehouse.yaml");
  const messages = again.ok ? [] : again.errors.map(formatConfigError);
  assert.deepEqual(messages.map((m) => m.replace(/^\S+ /, "")), [
    `entrypoints.dns.tls: "tls" is for http and tcp entrypoints: UDP is forwarded as datagrams`,
    `udp_routes[0].entrypoints[0]: entrypoint "web" has protocol: http; udp_routes need ` +
    `entrypoints with protocol: udp`,
    `udp_routes[0].service: service "api" has http servers: udp_routes need a service with ` +
    `udp:// servers`,
    `services.resolver.health_check: "send" is required for udp services: the datagram to send`,
    `services.resolver.health_check.path: "path" is for http services only`,
  ]);
});

Deno.test("the active check of a udp service: a server that answers the datagram is up, a silent one down", async () => {
  await using echo = udpEcho();
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const silentPort = (silent.addr as Deno.NetAddr).port;
  try {
    await using gw = await startProxy(yaml`
      entrypoints:
        dgram: { address: "127.0.0.1:0", protocol: udp }
      udp_routes: [{ entrypoints: [dgram], service: echo }]
      services:
        echo:
          servers: ["udp://127.0.0.1:${echo.port}", "udp://127.0.0.1:${silentPort}"]
          health_check:
            send: ping
            interval: 200ms
            timeout: 100ms
            healthy_threshold: 1
            unhealthy_threshold: 1
    `);
    const state = () =>
      [...gw.runtime.servers()].map((s) => `${s.url} ${s.up ? "up" : "down"}`).join(", ");
    const want = `udp://127.0.0.1:${echo.port} up, udp://127.0.0.1:${silentPort} down`;
    await waitFor(() => state() === want, want, 5000);
    // Every session now goes to the server that answers.
    for (let i = 0; i < 4; i++) {
      const socket = client();
      await socket.send(enc.encode(`s${i}`), to(gw.port("dgram")));
      assert.equal(dec.decode((await next(socket))!), `s${i}`);
      socket.close();
    }
  } finally {
    silent.close();
  }
});
