/**
 * Every TLS listener Gatehouse opens (HTTPS, a TCP entrypoint terminating TLS, the internal
 * listener behind the TLS relay) hands its connections TCP_NODELAY, read back with getsockopt on
 * the sockets themselves; curl measures paced requests whose response leaves in two writes (the
 * figures are printed, not asserted: without TCP_NODELAY each waits ~40 ms for a delayed ACK).
 * Without --allow-ffi Gatehouse still serves TLS and says once why responses may wait.
 */
import assert from "node:assert/strict";
import { tcpSockets } from "../internal/tcp_nodelay.ts";
import { spawnProxy } from "../testing/process.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream } from "../testing/servers.ts";
import {
  readBytes,
  tcpUpstream,
  text,
  tlsClient,
  tlsUpstream,
  writeAll,
} from "../testing/tcp_peers.ts";

const QUIET = `log: { access_log: { enabled: false } }\nadmin: { address: "off" }\n`;

/** An upstream whose response body follows its head a moment later (two writes downstream). */
function streamingUpstream() {
  return httpUpstream(() =>
    new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          controller.enqueue(new TextEncoder().encode("streamed\n"));
          controller.close();
        },
      }),
    )
  );
}

/** TCP_NODELAY of the server side of `client`'s connection to `port`, as the kernel has it. */
function serverSide(port: number, client: Deno.Conn): boolean {
  const peer = (client.localAddr as Deno.NetAddr).port;
  const found = tcpSockets().find((s) => s.localPort === port && s.peerPort === peer);
  assert.ok(found, `no socket from ${port} to ${peer}`);
  return found.noDelay;
}

/** `count` requests paced 50 ms apart on one curl connection; their durations in ms. */
async function pacedCurl(url: string, ca: string, version: string, count = 10): Promise<number[]> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      version,
      "--cacert",
      ca,
      "--rate",
      "20/s",
      "-w",
      "%{http_code} %{time_starttransfer} %{time_total}\\n",
      ...Array(count).fill(["-o", "/dev/null", url]).flat(),
    ],
    stdin: "null",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(lines.length, count);
  // From the first response byte to the last: the body's wait behind the head. The first
  // request also pays the handshake and is left out.
  return lines.slice(1).map((line) => {
    const [code, start, total] = line.split(" ");
    assert.equal(code, "200");
    return (Number(total) - Number(start)) * 1000;
  });
}

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `median ${sorted[sorted.length >> 1].toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms`;
}

Deno.test("HTTPS, TCP+TLS and relayed TLS connections all have TCP_NODELAY; paced curl figures", async () => {
  await using app = streamingUpstream();
  await using echo = tcpUpstream();
  await using passthrough = await tlsUpstream("a.test");
  await using gw = await startProxy(
    yaml`
    entrypoints:
      https:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
      relayed:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
      tcptls:
        address: "127.0.0.1:0"
        protocol: tcp
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app, entrypoints: [https, relayed] }]
    tcp_routes:
      - { entrypoints: [relayed], sni: a.test, passthrough: true, service: passthrough }
      - { entrypoints: [tcptls], service: echo }
    services:
      app: { servers: ["${app.url}"] }
      echo: { servers: ["${echo.url}"] }
      passthrough: { servers: ["${passthrough.url}"] }
  ` + QUIET,
  );
  const publicPorts = ["https", "relayed", "tcptls"].map((name) => gw.port(name));

  // HTTPS: the entrypoint's own listener.
  const https = await tlsClient(gw.port("https"), "localhost", ["http/1.1"]);
  assert.equal(serverSide(gw.port("https"), https), true, "HTTPS");
  https.close();

  // A TCP entrypoint terminating TLS.
  const tcp = await tlsClient(gw.port("tcptls"), "localhost");
  await writeAll(tcp, "ping");
  assert.equal(text(await readBytes(tcp, 4)), "ping");
  assert.equal(serverSide(gw.port("tcptls"), tcp), true, "TCP+TLS");
  tcp.close();

  // HTTPS beside passthrough routes: relayed to an internal TLS listener on 127.0.0.1. Other
  // test modules may run in this process (--parallel): only the connections accepted on a
  // listener other than the public ones while ours is relayed count.
  const acceptedBesidePublic = () => {
    const listening = tcpSockets().filter((s) =>
      s.peerPort === null && !publicPorts.includes(s.localPort)
    ).map((s) => s.localPort);
    return tcpSockets().filter((s) => s.peerPort !== null && listening.includes(s.localPort));
  };
  const key = (s: { localPort: number; peerPort: number | null }) => `${s.localPort}:${s.peerPort}`;
  const before = new Set(acceptedBesidePublic().map(key));
  const relayed = await tlsClient(gw.port("relayed"), "localhost", ["http/1.1"]);
  await writeAll(relayed, "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
  assert.match(text(await readBytes(relayed, 12)), /^HTTP\/1\.1 200/);
  const accepted = acceptedBesidePublic().filter((s) => !before.has(key(s)));
  assert.ok(accepted.length >= 1, "the relayed connection on the internal listener");
  assert.ok(accepted.every((s) => s.noDelay), "relayed TLS");
  relayed.close();

  const ca = `${gw.dir}/ca.crt`;
  for (
    const [name, version] of [["https", "--http1.1"], ["https", "--http2"], [
      "relayed",
      "--http1.1",
    ]]
  ) {
    const ms = await pacedCurl(`https://localhost:${gw.port(name)}/`, ca, version);
    console.log(`${name} ${version}, head to last byte: ${summary(ms)}`);
  }
});

Deno.test("without --allow-ffi TLS still works, and the delay's cause is logged once by two workers", async () => {
  await using app = streamingUpstream();
  await using gw = await spawnProxy(
    (port) =>
      yaml`
      entrypoints:
        websecure:
          address: "127.0.0.1:${port}"
          tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
        other:
          address: "127.0.0.1:0"
          tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
      routes: [{ service: app }]
      services: { app: { servers: ["${app.url}"] } }
      workers: 2
    ` + QUIET,
    {},
    ["--allow-net", "--allow-read", "--allow-env", "--allow-sys", "--allow-write"],
  );
  const ms = await pacedCurl(`https://localhost:${gw.port}/`, `${gw.dir}/ca.crt`, "--http1.1", 3);
  console.log(`without TCP_NODELAY, head to last byte: ${summary(ms)}`);
  await gw.close(); // every worker's log is out once the process has exited
  const warnings = gw.stderr().split("\n").filter((l) => l.includes("TCP_NODELAY"));
  assert.equal(warnings.length, 1, gw.stderr());
  assert.match(warnings[0], /delayed ACKs .*--allow-ffi=\/lib\/.+libc\.so\.6/);
});
