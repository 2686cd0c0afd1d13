import assert from "node:assert/strict";
import tls from "node:tls";
import { join } from "node:path";
import { testPki } from "../testing/certs.ts";
import { startGatehouse } from "../testing/gatehouse.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { readResponse, WireReader, writeAll } from "../testing/wire.ts";
import { parseCertificatePem } from "../pki/certificate.ts";

function routes(upstreamA: string, upstreamB: string, path: string): string {
  return yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      - { name: moving, match: { path: ${path} }, service: a }
      - { name: rest, service: b }
    services:
      a: { servers: [${upstreamA}] }
      b: { servers: [${upstreamB}] }
    admin: { address: "127.0.0.1:0" }
  `;
}

async function nameAt(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return await res.text();
}

Deno.test("editing the file applies the new routes within a second", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(routes(a.url, b.url, "/one"));
  const port = gh.port();
  assert.equal(await nameAt(port, "/one"), "a");
  assert.equal(await nameAt(port, "/two"), "b");
  const written = Date.now();
  await Deno.writeTextFile(gh.file, routes(a.url, b.url, "/two"));
  await waitFor(async () => await nameAt(port, "/two") === "a", "the new route", 1000);
  assert.ok(Date.now() - written <= 1000);
  assert.equal(await nameAt(port, "/one"), "b");
  assert.equal(gh.gatehouse.reloader.last?.reason, "file change");
});

Deno.test("an editor's save by rename, and a ConfigMap symlink swap, both reload", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(routes(a.url, b.url, "/one"));
  const port = gh.port();
  const temp = join(gh.dir, ".gatehouse.yaml.swp");
  await Deno.writeTextFile(temp, routes(a.url, b.url, "/two"));
  await Deno.rename(temp, gh.file);
  await waitFor(async () => await nameAt(port, "/two") === "a", "the renamed file", 1000);

  // Kubernetes: gatehouse.yaml -> ..data/gatehouse.yaml, and ..data -> ..v1 swapped to ..v2.
  const dir = join(gh.dir, "cm");
  await Deno.mkdir(join(dir, "..v1"), { recursive: true });
  await Deno.mkdir(join(dir, "..v2"));
  await Deno.writeTextFile(join(dir, "..v1", "gatehouse.yaml"), routes(a.url, b.url, "/three"));
  await Deno.writeTextFile(join(dir, "..v2", "gatehouse.yaml"), routes(a.url, b.url, "/four"));
  await Deno.symlink("..v1", join(dir, "..data"));
  await Deno.symlink(join("..data", "gatehouse.yaml"), join(dir, "gatehouse.yaml"));
  // Point the running Gatehouse at the ConfigMap-style file: one rename of the main file.
  await Deno.remove(gh.file);
  await Deno.symlink(join(dir, "gatehouse.yaml"), gh.file);
  await waitFor(async () => await nameAt(port, "/three") === "a", "the ConfigMap file", 1000);
  await Deno.symlink("..v2", join(dir, "..data_tmp"));
  await Deno.rename(join(dir, "..data_tmp"), join(dir, "..data"));
  await waitFor(async () => await nameAt(port, "/four") === "a", "the swapped ConfigMap", 1000);
});

Deno.test("a FIFO beside the config file stops neither reloads nor the shutdown", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(routes(a.url, b.url, "/one"));
  const port = gh.port();
  // A named pipe has no writer: whoever opens it waits (Deno's inotify watcher thread did, for
  // good, on the pipe's first event).
  const fifo = join(gh.dir, "control.pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  await Deno.utime(fifo, new Date(), new Date());
  await Deno.writeTextFile(gh.file, routes(a.url, b.url, "/two"));
  await waitFor(async () => await nameAt(port, "/two") === "a", "the reload after the FIFO", 2000);
  await Deno.utime(fifo, new Date(), new Date());
  await Deno.writeTextFile(gh.file, routes(a.url, b.url, "/three"));
  await waitFor(async () => await nameAt(port, "/three") === "a", "a second reload", 2000);
});

Deno.test("an invalid file is refused with its line, and the running config stays", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(routes(a.url, b.url, "/one"));
  const port = gh.port();
  const broken = routes(a.url, b.url, "/one").replace("service: a", "service: nowhere");
  await Deno.writeTextFile(gh.file, broken);
  await waitFor(() => gh.gatehouse.reloader.last?.ok === false, "the refused reload", 1000);
  const errors = gh.gatehouse.reloader.last!.errors;
  assert.equal(errors.length, 1);
  assert.match(errors[0], /gatehouse\.yaml:4:\d+ routes\[0\]\.service: unknown service "nowhere"/);
  assert.equal(await nameAt(port, "/one"), "a");
  const samples = await parseExposition(await (await fetch(gh.admin("/metrics"))).text());
  assert.equal(sampleValue(samples, "gatehouse_config_last_reload_success"), 0);
  assert.equal(sampleValue(samples, "gatehouse_config_reload_failures_total"), 1);
  const status = await (await fetch(gh.admin("/status"))).json();
  assert.equal(status.lastReload.ok, false);
  assert.deepEqual(status.lastReload.errors, errors);

  const viaAdmin = await fetch(gh.admin("/reload"), { method: "POST" });
  assert.equal(viaAdmin.status, 422);
  assert.deepEqual((await viaAdmin.json()).errors, errors);
  await Deno.writeTextFile(gh.file, routes(a.url, b.url, "/fixed"));
  const fixed = await fetch(gh.admin("/reload"), { method: "POST" });
  assert.equal(fixed.status, 200);
  assert.equal((await fixed.json()).ok, true);
  assert.equal(await nameAt(port, "/fixed"), "a");
});

Deno.test("a keep-alive connection keeps going across a reload and sees the new routes", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  await using b = httpUpstream(undefined, { name: "b" });
  await using gh = await startGatehouse(routes(a.url, b.url, "/one"), false);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: gh.port() });
  const reader = new WireReader(conn);
  const ask = async (path: string) => {
    await writeAll(conn, `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
    return new TextDecoder().decode((await readResponse(reader)).body);
  };
  assert.equal(await ask("/two"), "b");
  await Deno.writeTextFile(gh.file, routes(a.url, b.url, "/two"));
  assert.equal((await gh.gatehouse.reload("test")).ok, true);
  assert.equal(await ask("/two"), "a");
});

/** Serial of the certificate a new handshake gets, and the socket (left open). */
function handshake(port: number, ca: string): Promise<{ serial: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca });
    socket.once("secureConnect", () => {
      resolve({ serial: socket.getPeerCertificate().serialNumber.toUpperCase(), socket });
    });
    socket.once("error", reject);
  });
}

function httpOver(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (d: Uint8Array) => {
      text += new TextDecoder().decode(d);
      if (text.includes("\r\n\r\n") && /\r\n\r\n[ab]$/.test(text)) {
        socket.off("data", onData);
        resolve(text.slice(-1));
      }
    };
    socket.on("data", onData);
    socket.write("GET /one HTTP/1.1\r\nhost: localhost\r\n\r\n");
  });
}

Deno.test("replacing certificate files: new handshakes see the new one, open ones go on", async () => {
  await using a = httpUpstream(undefined, { name: "a" });
  const text = yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:0"
        tls:
          certificates: [{ cert: localhost.crt, key: localhost.key }]
          alpn: [http/1.1]
    routes:
      - { name: moving, match: { path: /one }, service: a }
    services:
      a: { servers: [${a.url}] }
    admin: { address: "127.0.0.1:0" }
  `;
  await using gh = await startGatehouse(text);
  const pki = await testPki();
  const port = gh.port();
  const first = await handshake(port, pki.caPem);
  try {
    assert.equal(await httpOver(first.socket), "a");
    const next = await pki.leaf("localhost", "127.0.0.1", "rotated.test");
    const serial = parseCertificatePem(next.certPem).serial;
    assert.notEqual(first.serial, serial);
    // Key first, then certificate, as a careful operator (or certbot) would.
    await Deno.writeTextFile(join(gh.dir, "localhost.key"), next.keyPem);
    await Deno.writeTextFile(join(gh.dir, "localhost.crt"), next.certPem);
    await waitFor(
      async () => {
        const probe = await handshake(port, pki.caPem);
        probe.socket.destroy();
        return probe.serial === serial;
      },
      "a handshake with the new certificate",
      2000,
    );
    assert.equal(await httpOver(first.socket), "a");
  } finally {
    first.socket.destroy();
  }
});
