/**
 * Request bodies over HTTP/2 arrive byte for byte: the engine lends views of the pooled buffers
 * its DATA waits in (proto/h2/stream.ts) and reuses them at the reader's next read, so a consumer
 * that kept a chunk past its next read would corrupt what it forwards. curl uploads 24 MiB of random bytes over TLS (ALPN h2)
 * and over h2c to an HTTP/1.1 upstream, which answers the SHA-256 it received, and to an h2c
 * upstream, which echoes the body back.
 */
import assert from "node:assert/strict";
import { h2TestServer } from "../testing/h2_server.ts";
import { runTool } from "../testing/h2_tools.ts";
import { proxyFor, type TestProxy } from "../testing/proxy.ts";
import { httpUpstream } from "../testing/servers.ts";

const SIZE = 24 * 1024 * 1024;

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file of SIZE random bytes, and its SHA-256. */
async function randomFile(): Promise<{ path: string; hash: string }> {
  const bytes = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  await Deno.writeFile(path, bytes);
  return { path, hash: await sha256(bytes) };
}

/** curl's arguments for `path` over TLS (ALPN h2) and over h2c with prior knowledge. */
function targets(gw: TestProxy, path: string): Record<string, string[]> {
  return {
    tls: [
      "--http2",
      "--cacert",
      gw.certs.caCertPath,
      `https://localhost:${gw.port("websecure")}${path}`,
    ],
    h2c: ["--http2-prior-knowledge", `http://127.0.0.1:${gw.port("web")}${path}`],
  };
}

/** Runs curl to upload `file` with `args`; its stdout. */
async function upload(file: string, args: string[]): Promise<string> {
  const run = await runTool("curl", ["-sS", "--data-binary", `@${file}`, ...args]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

Deno.test("24 MiB up over HTTP/2 reaches an HTTP/1.1 upstream byte for byte", async () => {
  const file = await randomFile();
  try {
    await using up = httpUpstream(async (req) =>
      new Response(await sha256(new Uint8Array(await req.arrayBuffer())))
    );
    await using gw = await proxyFor([up.url]);
    for (const [name, args] of Object.entries(targets(gw, "/up"))) {
      assert.equal(await upload(file.path, args), file.hash, `the upload over ${name} differs`);
    }
  } finally {
    await Deno.remove(file.path);
  }
});

Deno.test("24 MiB up over HTTP/2 to an h2c upstream comes back byte for byte", async () => {
  const file = await randomFile();
  const echoed = await Deno.makeTempFile();
  try {
    await using up = await h2TestServer({ tls: false });
    await using gw = await proxyFor([`h2c://127.0.0.1:${up.port}`]);
    for (const [name, args] of Object.entries(targets(gw, "/echo"))) {
      await upload(file.path, ["-o", echoed, ...args]);
      const back = await Deno.readFile(echoed);
      assert.equal(back.length, SIZE);
      assert.equal(await sha256(back), file.hash, `the echo over ${name} differs`);
    }
  } finally {
    await Deno.remove(file.path);
    await Deno.remove(echoed);
  }
});
