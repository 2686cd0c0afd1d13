import assert from "node:assert/strict";
import { ejectionEnd } from "../app/status.ts";
import { monotonicNow } from "../clock.ts";
import { startGatehouse } from "../testing/gatehouse.ts";
import { yaml } from "../testing/proxy.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";

Deno.test("/status describes entrypoints, routes, TCP routes and services as they run", async () => {
  const slow = Promise.withResolvers<void>();
  await using up = httpUpstream(async (req) => {
    if (new URL(req.url).pathname === "/api/slow") await slow.promise;
    return new Response("ok");
  });
  const down = `http://127.0.0.1:${closedPort()}`;
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
        secure:
          address: "127.0.0.1:0"
          tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
        raw: { address: "127.0.0.1:0", protocol: tcp }
      routes:
        - name: app
          entrypoints: [web]
          match: { host: app.test, path: /api }
          service: app
      tcp_routes:
        - name: echo
          entrypoints: [raw]
          service: echo
      services:
        app: { servers: ["${up.url}"] }
        spare: { servers: ["${down}"] }
        echo: { servers: ["tcp://127.0.0.1:${up.port}"] }
      admin: { address: "127.0.0.1:0" }
    `,
    false,
  );
  // A keep-alive client connection whose request left one idle upstream connection, and a
  // second one whose request takes that upstream connection and waits for `slow`.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gh.port("web") });
  const waiting = await Deno.connect({ hostname: "127.0.0.1", port: gh.port("web") });
  try {
    const request = (path: string) =>
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: app.test\r\n\r\n`);
    await conn.write(request("/api"));
    const buf = new Uint8Array(4096);
    assert.match(new TextDecoder().decode(buf.subarray(0, (await conn.read(buf)) ?? 0)), / 200 /);
    const status = async () => await (await fetch(gh.admin("/status"))).json();
    const server = async () => (await status()).services[0].servers[0];
    await waitFor(async () => (await server()).idleConnections === 1, "an idle upstream one");
    await waiting.write(request("/api/slow"));
    await waitFor(async () => (await server()).inflight === 1, "the slow request upstream");
    const doc = await status();

    assert.equal(doc.version, gh.config.version);
    assert.equal(doc.source, gh.file);
    assert.equal(doc.draining, false);
    assert.equal(doc.lastReload, null);
    assert.ok(doc.uptimeSeconds >= 0 && Date.parse(doc.startedAt) <= Date.now());

    const [web, secure, raw] = doc.entrypoints;
    assert.deepEqual(
      { ...web, tls: undefined },
      {
        name: "web",
        address: "127.0.0.1:0",
        port: gh.port("web"),
        protocol: "http",
        redirect: null,
        openConnections: 2,
        tls: undefined,
      },
    );
    assert.equal(web.tls, null);
    assert.equal(secure.port, gh.port("secure"));
    assert.equal(secure.openConnections, 0);
    assert.equal(secure.tls.defaultCertificate, "localhost", "the only certificate is the default");
    const [cert] = secure.tls.certificates;
    assert.deepEqual(cert.hosts, ["localhost"]);
    assert.equal(cert.subject, "CN=localhost");
    assert.match(cert.serial, /^[0-9A-F]+$/);
    assert.ok(Date.parse(cert.notAfter) > Date.now());
    assert.equal(raw.protocol, "tcp");

    assert.deepEqual(doc.routes, [{
      name: "app",
      container: null,
      entrypoints: ["web"],
      match: gh.config.routes[0].match,
      service: "app",
      stripPrefix: gh.config.routes[0].stripPrefix,
      allowEncoded: [],
      upgrade: gh.config.routes[0].upgrade,
    }]);
    assert.deepEqual(doc.tcpRoutes.map((r: { name: string; sni: unknown }) => [r.name, r.sni]), [
      ["echo", "default"],
    ]);
    const servers = (name: string) =>
      doc.services.find((s: { name: string }) => s.name === name).servers.map((
        s: Record<string, unknown>,
      ) => [s.url, s.up, s.inflight, s.openConnections, s.idleConnections, s.ejectedUntil]);
    assert.deepEqual(servers("app"), [[up.url, true, 1, 1, 0, null]]);
    assert.deepEqual(servers("spare"), [[down, true, 0, 0, 0, null]]);
    assert.equal(doc.services[0].healthCheck, false);
    assert.equal(doc.acme, null);
    assert.equal(doc.docker, null, "the Docker provider is off");
  } finally {
    slow.resolve();
    conn.close();
    waiting.close();
  }
});

Deno.test("an ejection's end is shown in wall-clock time, and not once it is over", () => {
  const shown = Date.parse(ejectionEnd(monotonicNow() + 30_000)!);
  assert.ok(Math.abs(shown - (Date.now() + 30_000)) < 1000, new Date(shown).toISOString());
  assert.equal(ejectionEnd(monotonicNow() - 1), null);
  assert.equal(ejectionEnd(0), null, "never ejected");
});
