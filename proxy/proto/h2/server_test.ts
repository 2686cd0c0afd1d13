/**
 * The engine's server side against clients Gatehouse did not write: curl (`--http2` over TLS,
 * `--http2-prior-knowledge` over h2c), nghttp and h2load (no failed request), on the test server
 * of proxy/testing/h2_server.ts.
 */
import assert from "node:assert/strict";
import { serveH2 } from "./server.ts";
import { h2TestServer, routes } from "../../testing/h2_server.ts";
import { HeaderList } from "../header_list.ts";
import type { BodyReader } from "../message.ts";

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const res = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout), err: dec.decode(res.stderr) };
}

async function writeCa(pem: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".pem" });
  await Deno.writeTextFile(path, pem);
  return path;
}

Deno.test("curl --http2 over TLS: GET, POST echo, trailers, HEAD without a body", async () => {
  await using server = await h2TestServer({ tls: true });
  const ca = await writeCa(server.caPem);
  try {
    const curl = (...args: string[]) => run("curl", ["-sS", "--http2", "--cacert", ca, ...args]);
    const get = await curl("-D", "-", `${server.url}/`);
    assert.equal(get.code, 0, get.err);
    assert.match(get.out, /^HTTP\/2 200 ?\r\n/);
    assert.match(get.out, /content-length: 24\r\n/);
    assert.ok(get.out.endsWith("hello from gatehouse h2\n"));
    const post = await curl("--data-binary", "some body", `${server.url}/echo`);
    assert.equal(post.out, "some body");
    const trailers = await curl("-v", `${server.url}/trailers`);
    assert.equal(trailers.out, "with trailers\n");
    assert.match(trailers.err, /< x-trailer: done/);
    assert.match(trailers.err, /< grpc-status: 0/);
    const head = await curl("-I", `${server.url}/`);
    assert.match(head.out, /^HTTP\/2 200 ?\r\n/);
    const big = await curl(`${server.url}/bytes/3000000`);
    assert.equal(big.out.length, 3_000_000);
  } finally {
    await Deno.remove(ca);
  }
});

Deno.test("curl --http2-prior-knowledge over h2c: GET and a 1 MiB POST echoed", async () => {
  await using server = await h2TestServer({ tls: false });
  const get = await run("curl", ["-sS", "--http2-prior-knowledge", `${server.url}/`]);
  assert.equal(get.code, 0, get.err);
  assert.equal(get.out, "hello from gatehouse h2\n");
  const file = await Deno.makeTempFile();
  try {
    const body = new Uint8Array(1024 * 1024).map((_, i) => 65 + (i % 26));
    await Deno.writeFile(file, body);
    const post = await run("curl", [
      "-sS",
      "--http2-prior-knowledge",
      "--data-binary",
      `@${file}`,
      `${server.url}/echo`,
    ]);
    assert.equal(post.code, 0, post.err);
    assert.equal(post.out, new TextDecoder().decode(body));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("nghttp over h2c and TLS: GET and POST", async () => {
  for (const tls of [false, true]) {
    await using server = await h2TestServer({ tls });
    const get = await run("nghttp", ["-v", `${server.url}/`]);
    assert.equal(get.code, 0, get.err);
    assert.match(get.out, /:status: 200/);
    assert.match(get.out, /hello from gatehouse h2/);
    const file = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(file, "posted by nghttp");
      const post = await run("nghttp", ["-d", file, `${server.url}/echo`]);
      assert.equal(post.code, 0, post.err);
      assert.equal(post.out, "posted by nghttp");
    } finally {
      await Deno.remove(file);
    }
  }
});

Deno.test("h2load -n 20000 -c 20 -m 10 over TLS and h2c: every request succeeds", async () => {
  for (const tls of [true, false]) {
    await using server = await h2TestServer({ tls });
    const res = await run("h2load", ["-n", "20000", "-c", "20", "-m", "10", `${server.url}/`]);
    assert.equal(res.code, 0, res.err);
    assert.match(
      res.out,
      /requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout/,
      res.out,
    );
    assert.match(res.out, /status codes: 20000 2xx/);
  }
});

Deno.test("h2c sniffing: bytes read before serveH2 are handed in with initialBytes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    // What an entrypoint does to tell HTTP/1.1 from the h2c preface: read, look, hand over.
    const first = new Uint8Array(16);
    let n = 0;
    while (n < first.length) n += (await conn.read(first.subarray(n))) ?? first.length;
    assert.equal(new TextDecoder().decode(first.subarray(0, 3)), "PRI");
    const h2 = serveH2(conn, { initialBytes: first, onRequest: routes });
    await h2.closed;
  })();
  const res = await run("curl", [
    "-sS",
    "--http2-prior-knowledge",
    `http://127.0.0.1:${listener.addr.port}/`,
  ]);
  assert.equal(res.code, 0, res.err);
  assert.equal(res.out, "hello from gatehouse h2\n");
  await serving;
  listener.close();
});

Deno.test("a response body is released once its last DATA is queued, whether readNow or read ended it", async () => {
  const released: string[] = [];
  const finished = new Set<string>();
  await using server = await h2TestServer({
    tls: false,
    onRequest: (req) => {
      const bulk = new Uint8Array(100_000).fill(120);
      // "/now": the end is seen by looking ahead (readNow); "/read": by one more read().
      const ready: (Uint8Array | null | undefined)[] = req.path === "/now"
        ? [bulk, null]
        : [bulk, undefined];
      let reads = 0;
      const body: BodyReader = {
        length: bulk.length,
        read: () => Promise.resolve(reads++ === 0 ? bulk : null),
        readNow: () => (reads++, ready.shift()),
        cancel: () => {},
        release: () => void released.push(req.path),
      };
      const headers = HeaderList.from([["content-type", "application/octet-stream"]]);
      void req.respond({ status: 200, headers, body }).then(() => finished.add(req.path));
    },
  });
  for (const path of ["/now", "/read"]) {
    const curl = await run("curl", ["-sS", "--http2-prior-knowledge", `${server.url}${path}`]);
    assert.equal(curl.code, 0, curl.err);
    assert.equal(curl.out.length, 100_000);
    while (!finished.has(path)) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(released, ["/now", "/read"]);
});
