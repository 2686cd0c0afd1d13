/**
 * A strict upstream written by others: Node.js's node:http (Debian's nodejs, llhttp) answers 400
 * to a request with two Content-Length lines, which is what every POST through Gatehouse carried
 * before it framed upstream requests itself (issue 14). Through Gatehouse, on HTTP/1.1 (plain
 * and TLS) and HTTP/2, a POST with Content-Length: 5 must reach it intact.
 */
import assert from "node:assert/strict";
import { h2Head, h2Raw } from "../testing/h2_raw.ts";
import { connect, proxyFor } from "../testing/proxy.ts";
import { message } from "../testing/upstream_bytes.ts";
import { readResponse } from "../testing/wire.ts";

const NODE = "/usr/bin/node";
/** Answers "<method> <length of the body> <content-length>" once the body is in. */
const SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  let size = 0;
  req.on("data", (chunk) => size += chunk.length);
  req.on("end", () => res.end(req.method + " " + size + " " + req.headers["content-length"]));
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function nodeUpstream() {
  const child = new Deno.Command(NODE, {
    args: ["-e", SERVER],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const port = Number(value?.trim());
  assert.ok(port > 0, `node printed ${JSON.stringify(value)}`);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

const POST = ["POST /up HTTP/1.1", "Host: a.test"];

Deno.test("node:http refuses two Content-Length lines; through Gatehouse a POST arrives", async () => {
  await using node = await nodeUpstream();
  {
    // The premise: this upstream is strict about the duplicate Gatehouse used to send.
    using direct = await connect(node.port);
    await direct.send(message([...POST, "Content-Length: 5", "Content-Length: 5"], "hello"));
    assert.equal((await readResponse(direct.reader)).status, 400);
  }
  await using gw = await proxyFor([node.url]);
  for (const entrypoint of ["web", "websecure"]) {
    const tls = entrypoint === "websecure" ? { tls: "localhost" } : {};
    using c = await connect(gw.port(entrypoint), tls);
    await c.send(message([...POST, "Content-Length: 5"], "hello"));
    const res = await readResponse(c.reader);
    assert.deepEqual([res.status, res.text], [200, "POST 5 5"], entrypoint);
  }
  const { responses } = await h2Raw(gw.port("websecure"), gw.certs.caCertPath, [{
    headers: h2Head([["content-length", "5"]], { method: "POST", path: "/up" }),
    data: ["hello"],
  }]);
  assert.deepEqual([responses[0].status, responses[0].body], [200, "POST 5 5"]);
});
