/**
 * The engine's client side against servers Gatehouse did not write: nghttpd (Debian
 * nghttp2-server) over h2c and over TLS with ALPN h2, and a python3-grpcio server over h2c
 * (proxy/testing/grpc_peer.py): gRPC calls with their status in trailers, and a trailers-only
 * error response.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { HeaderList } from "../header_list.ts";
import { readWhole } from "../message.ts";
import { connectH2, type H2ClientConnection } from "./client.ts";
import { testPki } from "../../testing/certs.ts";
import { accepts } from "../../testing/process.ts";
import { SYSTEM_PYTHON } from "../../testing/prometheus.ts";
import { closedPort, waitFor } from "../../testing/servers.ts";

const GRPC_PEER = new URL("../../testing/grpc_peer.py", import.meta.url).pathname;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Connects with TCP_NODELAY, then TLS (ALPN h2) when `caPem` is given. */
async function dial(port: number, caPem: string | null): Promise<H2ClientConnection> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  if (caPem === null) return connectH2(tcp);
  const tls = await Deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [caPem],
    alpnProtocols: ["h2"],
  });
  return connectH2(tls);
}

interface Nghttpd extends AsyncDisposable {
  readonly port: number;
  readonly caPem: string | null;
  readonly file: Uint8Array;
}

/** nghttpd serving one 1 MiB file (`/file`) and echoing uploads. */
async function nghttpd(tls: boolean): Promise<Nghttpd> {
  const dir = await Deno.makeTempDir();
  const file = randomBytes(1024 * 1024);
  await Deno.writeFile(join(dir, "file"), file);
  const port = closedPort();
  const args = ["-a", "127.0.0.1", "-d", dir, "--echo-upload"];
  let caPem: string | null = null;
  if (tls) {
    const pki = await testPki();
    const leaf = await pki.leaf();
    await Deno.writeTextFile(join(dir, "key.pem"), leaf.keyPem);
    await Deno.writeTextFile(join(dir, "cert.pem"), leaf.certPem);
    args.push(String(port), join(dir, "key.pem"), join(dir, "cert.pem"));
    caPem = pki.caPem;
  } else {
    args.push("--no-tls", String(port));
  }
  const child = new Deno.Command("nghttpd", { args, stdout: "null", stderr: "null" }).spawn();
  await waitFor(() => accepts(port), "nghttpd to listen", 5000);
  return {
    port,
    caPem,
    file,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

for (const tls of [false, true]) {
  Deno.test(`client against nghttpd over ${tls ? "TLS (ALPN h2)" : "h2c"}: files, uploads, concurrency`, async () => {
    await using server = await nghttpd(tls);
    const client = await dial(server.port, server.caPem);
    const scheme = tls ? "https" : "http";
    const authority = `localhost:${server.port}`;
    try {
      const res = await client.request({ method: "GET", scheme, authority, path: "/file" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(server.file.length));
      assert.equal(await sha256(await readWhole(res.body)), await sha256(server.file));

      const missing = await client.request({ method: "GET", scheme, authority, path: "/nope" });
      assert.equal(missing.status, 404);
      await readWhole(missing.body);

      const upload = randomBytes(300_000);
      const echo = await client.request({
        method: "POST",
        scheme,
        authority,
        path: "/file",
        body: upload,
      });
      assert.equal(echo.status, 200);
      assert.equal(await sha256(await readWhole(echo.body)), await sha256(upload));

      const many = await Promise.all(
        Array.from(
          { length: 30 },
          () =>
            client.request({ method: "GET", scheme, authority, path: "/file" })
              .then((r) => readWhole(r.body)).then((b) => b.length),
        ),
      );
      assert.deepEqual(many, Array(30).fill(server.file.length));
    } finally {
      await client.shutdown();
    }
  });
}

/** gRPC length-prefixed message framing (uncompressed). */
function grpcFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

function grpcMessages(body: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < body.length;) {
    const n = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
    out.push(new TextDecoder().decode(body.subarray(at + 5, at + 5 + n)));
    at += 5 + n;
  }
  return out;
}

Deno.test("client against a python3-grpcio server over h2c: status in trailers and trailers-only", async () => {
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: [GRPC_PEER, "serve"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  const port = Number(first.value?.trim());
  reader.releaseLock();
  const client = await dial(port, null);
  const call = (method: string, message: string) =>
    client.request({
      method: "POST",
      scheme: "http",
      authority: `127.0.0.1:${port}`,
      path: `/test.Echo/${method}`,
      headers: HeaderList.from([["content-type", "application/grpc"], ["te", "trailers"]]),
      body: grpcFrame(new TextEncoder().encode(message)),
    });
  try {
    const ok = await call("Unary", "hello");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/grpc");
    assert.deepEqual(grpcMessages(await readWhole(ok.body)), ["echo:hello"]);
    const trailers = await ok.trailers;
    assert.equal(trailers?.get("grpc-status"), "0");
    assert.equal(trailers?.get("x-trailer"), "yes");

    const stream = await call("ServerStream", "tick");
    assert.deepEqual(grpcMessages(await readWhole(stream.body)), ["tick", "tick", "tick"]);
    assert.equal((await stream.trailers)?.get("grpc-status"), "0");

    // A trailers-only response: one HEADERS frame with END_STREAM carries the status.
    const failed = await call("Unary", "fail");
    assert.equal(failed.status, 200);
    assert.equal(failed.body, null);
    assert.equal(failed.headers.get("grpc-status"), "3");
    assert.equal(failed.headers.get("grpc-message"), "bad input");
  } finally {
    await client.shutdown();
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});
