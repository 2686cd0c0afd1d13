import assert from "node:assert/strict";
import type { ServerRef, UpstreamTls } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { testPki } from "../testing/certs.ts";
import { createCa, createLeaf } from "../pki/generate.ts";
import { dialServer } from "./dial.ts";

const VERIFY: UpstreamTls = {
  caPem: null,
  caFile: null,
  serverName: null,
  insecureSkipVerify: false,
};
const never = new AbortController().signal;
const H1 = ["http/1.1"];

/** Dials like the HTTP/1.1 transport: ALPN http/1.1 offered. */
async function dialUpstream(server: ServerRef, tls: UpstreamTls, signal: AbortSignal) {
  return (await dialServer(server, tls, H1, signal)).conn;
}

function ref(scheme: ServerRef["scheme"], port: number): ServerRef {
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    scheme,
    hostname: "127.0.0.1",
    port,
    path: null,
    weight: 1,
  };
}

/**
 * An upstream that reads until end of stream, then answers "got N bytes" and closes; over TLS
 * it offers h2 and http/1.1 and records what ALPN chose.
 */
function countingUpstream(tls?: { cert: string; key: string }) {
  const listener = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls, alpnProtocols: ["h2", "http/1.1"] })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const alpn: (string | null)[] = [];
  (async () => {
    for await (const conn of listener) {
      (async () => {
        try {
          if ("handshake" in conn) alpn.push((await conn.handshake()).alpnProtocol);
          let total = 0;
          const buf = new Uint8Array(64 * 1024);
          for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) total += n;
          await conn.write(new TextEncoder().encode(`got ${total} bytes`));
        } catch {
          // the client refused the certificate or went away
        } finally {
          conn.close();
        }
      })();
    }
  })().catch(() => {});
  return { port: listener.addr.port, alpn, [Symbol.dispose]: () => listener.close() };
}

/** Sends `size` bytes, half-closes, and reads the answer to the end. */
async function exchange(conn: ByteConn, size: number): Promise<string> {
  const chunk = new Uint8Array(16 * 1024).fill(0x61);
  for (let sent = 0; sent < size;) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
    for (let done = 0; done < part.length;) done += await conn.write(part.subarray(done));
    sent += part.length;
  }
  await conn.closeWrite();
  let answer = "";
  const buf = new Uint8Array(1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    answer += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return answer;
}

const pki = await testPki();
const aTest = await pki.leaf("a.test");
const otherCa = await createCa({ commonName: "Elsewhere CA", days: 1 });
const stranger = await createLeaf({
  ca: otherCa,
  commonName: "a.test",
  dnsNames: ["a.test"],
  days: 1,
});

Deno.test("dialServer: plain TCP for http and tcp servers, half-close kept", async () => {
  using up = countingUpstream();
  for (const scheme of ["http", "tcp"] as const) {
    const conn = await dialUpstream(ref(scheme, up.port), VERIFY, never);
    assert.equal(await exchange(conn, 100_000), "got 100000 bytes");
  }
});

Deno.test("dialServer: https verifies the CA and the SNI name, and offers http/1.1 only", async () => {
  using up = countingUpstream({ cert: aTest.certPem, key: aTest.keyPem });
  const trusted = { ...VERIFY, caPem: pki.caPem, serverName: "a.test" };
  const conn = await dialUpstream(ref("https", up.port), trusted, never);
  assert.equal(await exchange(conn, 1 << 20), `got ${1 << 20} bytes`);
  assert.deepEqual(up.alpn, ["http/1.1"]);
  await assert.rejects(
    dialUpstream(ref("https", up.port), { ...trusted, serverName: null }, never),
    /not valid for name "127.0.0.1"/,
  );
  await assert.rejects(
    dialUpstream(ref("https", up.port), { ...trusted, caPem: otherCa.certPem }, never),
    /UnknownIssuer/,
  );
});

Deno.test("dialServer: insecure_skip_verify takes any certificate, bytes flow both ways", async () => {
  using up = countingUpstream({ cert: stranger.certPem, key: stranger.keyPem });
  const insecure = { ...VERIFY, insecureSkipVerify: true };
  const conn = await dialUpstream(ref("https", up.port), insecure, never);
  // More than the socket buffers hold: the writes wait for the reader (backpressure).
  assert.equal(await exchange(conn, 4 << 20), `got ${4 << 20} bytes`);
  assert.deepEqual(up.alpn, ["http/1.1"]);
});

/** `promise`, or a rejection when it has not settled after 5 s (a hang fails, loudly). */
async function settled<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("still pending after 5 s: the abort was lost")),
      5000,
    );
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("dialServer: an abort once the upstream accepted rejects, verified or not", async () => {
  // Accepts and never answers the ClientHello.
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  for (const insecureSkipVerify of [false, true]) {
    const controller = new AbortController();
    const dial = dialUpstream(
      ref("https", silent.addr.port),
      { ...VERIFY, insecureSkipVerify },
      controller.signal,
    );
    held.push(await silent.accept());
    controller.abort(new Error("given up"));
    await assert.rejects(settled(dial), { message: "given up" });
  }
  for (const conn of held) conn.close();
});

Deno.test("dialServer: unix sockets for unix:// and unix+tcp:// servers; a missing one fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-dial-" });
  try {
    const path = `${dir}/up.sock`;
    using listener = Deno.listen({ transport: "unix", path });
    (async () => {
      for await (const conn of listener) {
        let total = 0;
        const buf = new Uint8Array(64 * 1024);
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) total += n;
        await conn.write(new TextEncoder().encode(`got ${total} bytes`));
        conn.close();
      }
    })().catch(() => {});
    for (const scheme of ["unix", "unix+tcp"] as const) {
      const server = { ...ref(scheme, 0), url: `${scheme}://${path}`, hostname: "", path };
      const conn = await dialUpstream(server, VERIFY, never);
      assert.equal(await exchange(conn, 300_000), "got 300000 bytes");
    }
    const missing = { ...ref("unix", 0), path: `${dir}/none.sock` };
    await assert.rejects(dialUpstream(missing, VERIFY, never), Deno.errors.NotFound);
    const aborted = new AbortController();
    aborted.abort(new Error("gave up"));
    await assert.rejects(dialUpstream({ ...missing, path }, VERIFY, aborted.signal), /gave up/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
