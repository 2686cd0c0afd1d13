import assert from "node:assert/strict";
import { latin1 } from "../testing/wire.ts";
import { BareCrError, BufferedConn, writeAll } from "./buffered_conn.ts";

/** A loopback pair: `send` writes to the reading side's peer, which stays open. */
async function pair() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  listener.close();
  const io = new BufferedConn(server, 16);
  return {
    io,
    send: (text: string) => client.write(Uint8Array.from(text, (c) => c.charCodeAt(0))),
    [Symbol.dispose]() {
      client.close();
      io.close();
    },
  };
}

Deno.test("readHead refuses a bare CR as soon as the byte after it arrives", async () => {
  for (
    const wire of [
      "GET / HTTP/1.1\rHost: a\r\r", // CR-only line ends: no LF ever comes
      "GET / HTTP/1.1\r\nHost: a\rb\r\n",
      "GET /\r HTTP/1.1\r\n",
      "\rGET / HTTP/1.1\r\n", // before the request line, where blank lines are skipped
      "\r\n\rX",
    ]
  ) {
    using p = await pair();
    await p.send(wire);
    // The peer keeps the connection open: a reader waiting for the head's end would hang.
    await assert.rejects(p.io.readHead(1024), BareCrError, JSON.stringify(wire));
  }
});

Deno.test("readHead takes CRLF split across reads, and skips blank lines before a head", async () => {
  using p = await pair();
  await p.send("\r\n\nGET / HTTP/1.1\r");
  const head = p.io.readHead(1024);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await p.send("\nHost: a\r");
  await new Promise((resolve) => setTimeout(resolve, 20));
  await p.send("\n\r\nnext");
  assert.equal(latin1((await head)!), "GET / HTTP/1.1\r\nHost: a\r");
  assert.equal(latin1(p.io.drainBuffer()), "next");
});

Deno.test("a Deno connection is read through the read op, not its read method", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  // The method Deno's connections read through otherwise (internal/direct_read.ts skips it).
  server.read = () => Promise.reject(new Error("read through Conn.read"));
  const io = new BufferedConn(server, 64);
  await client.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: a\r\n\r\n"));
  const head = await io.readHead(1024);
  assert.ok(head !== null, "the read failed: it went through Conn.read");
  assert.equal(new TextDecoder().decode(head), "GET / HTTP/1.1\r\nhost: a\r");
  client.close();
  io.close();
});

Deno.test("writeAll with a watch: each partial write to a slow reader restarts the bound; done, it is off", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const writer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const reader = await listener.accept();
  const watch = { writeDeadline: 0, writeIdleMs: 1000 };
  const done = writeAll(writer, new Uint8Array(16 * 1024 * 1024), watch);
  // As the registry's sweep does: each start since the last look gets a deadline (here, 1).
  let starts = 0;
  const sweep = setInterval(() => {
    if (watch.writeDeadline === -1) {
      starts++;
      watch.writeDeadline = 1;
    }
  }, 5);
  const buf = new Uint8Array(256 * 1024);
  let read = 0;
  while (read < 16 * 1024 * 1024) {
    read += (await reader.read(buf)) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await done;
  clearInterval(sweep);
  writer.close();
  reader.close();
  assert.ok(starts >= 2, `the bound restarted ${starts} times`);
  assert.equal(watch.writeDeadline, 0);
});
