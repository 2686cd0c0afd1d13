/**
 * Mutated HTTP/1.1 requests against the whole proxy (seeded, reproducible): whatever a client
 * sends, an upstream only ever receives canonical requests, every response a client gets is
 * either its upstream's answer to one of those requests (in order, none missing, none extra) or
 * a refusal with a refusal's status, and nothing is answered 500.
 *
 * GATEHOUSE_FUZZ_CASES (default 800) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed, lane and case, and the input, which reproduce it.
 */
import assert from "node:assert/strict";
import { FUZZ_LANES, FUZZ_SEED, fuzzCases, laneProxy, runLanes } from "../testing/fuzz_lanes.ts";
import { message } from "../testing/upstream_bytes.ts";
import { latin1, latin1Bytes } from "../testing/wire.ts";
import { mutate, type Rng } from "../testing/mutate.ts";
import { type FuzzLane, fuzzLane } from "../testing/fuzz_upstream.ts";

const CASES = fuzzCases(800);
/** A case whose connection Gatehouse has not closed by then is a failure of its own. */
const CASE_LIMIT_MS = 5000;

const host = "Host: a.test";
const SEEDS: readonly string[] = [
  message(["GET / HTTP/1.1", host, "X-Request-Id: t"]),
  message(["POST /p HTTP/1.1", host, "Content-Length: 5"], "hello"),
  message(["POST /p HTTP/1.1", host, "Transfer-Encoding: chunked"], "5\r\nhello\r\n0\r\n\r\n"),
  message(
    ["POST /p HTTP/1.1", host, "Transfer-Encoding: chunked", "TE: trailers"],
    "5;a=b\r\nhello\r\n3\r\n!!!\r\n0\r\nx-t: 1\r\n\r\n",
  ),
  message(
    ["POST /p HTTP/1.1", host, "Content-Length: 5", "Transfer-Encoding: chunked"],
    "0\r\n\r\n",
  ),
  message(["PUT /p HTTP/1.1", host, "Transfer-Encoding: gzip, chunked"], "0\r\n\r\n"),
  message(["GET /a?b=c HTTP/1.0", host, "Connection: keep-alive"]),
  message(["GET http://a.test/x HTTP/1.1", host]),
  message(["GET //a/%2e%2e;/%2fb%25?n=%2F HTTP/1.1", host]),
  message(["GET /a;x=1/%61?q=100% HTTP/1.1", host]),
  message(["GET /a\\..\\b?c=\\ HTTP/1.1", host]),
  message(["GET //a/b//c?d=//e HTTP/1.1", host]),
  message(["OPTIONS * HTTP/1.1", host]),
  message([
    "GET /ws HTTP/1.1",
    host,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
  ]),
  message(["POST /p HTTP/1.1", host, "Expect: 100-continue", "Content-Length: 5"], "hello"),
  message(["GET / HTTP/1.1", host, "Connection: close"]),
  message([
    "GET / HTTP/1.1",
    host,
    "Cookie: a=1",
    "Cookie: b=2",
    "Accept: */*",
    "Connection: keep-alive, X-Drop",
    "X-Drop: 1",
  ]),
  message(["DELETE /d HTTP/1.1", host, "Content-Length: 0"]),
  message(["GET /a HTTP/1.1", host, "Authorization: Basic YTpi", "Authorization: Basic YjphCg=="]),
];

const WORDS: readonly string[] = [
  ...[" ", "\t", "\r", "\n", "\r\n", "\r\n\r\n", "\0", "\x0b", "\x0c", "\x7f", "\xff", "\x85"],
  ...["\xa0", ":", ";", ",", '"', "@", "_", "-", "/..", "%00", "http://", "HTTP/1.0"],
  ...["HTTP/1.1", "HTTP/2.0", "chunked", " chunked", "identity", "gzip", "0\r\n\r\n"],
  ...["#", "%", "%2f", "%2F", "%5c", "%25", "%zz", "%4", "..;", "/..;/", "%2e%2e;", "//", "?"],
  ...["\\", "\\..\\", "get", "Head"],
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 0\r\n",
  "Content-Length: 5\r\n",
  "Host: b.test\r\n",
  "Authorization: Basic YTpi\r\n",
  "X-HTTP-Method-Override: DELETE\r\n",
  "X-Original-URL: /admin\r\n",
  "X-Forwarded-Prefix: /x\r\n",
  "X-Real-IP: 192.0.2.1\r\n",
  "Expect: 100-continue\r\n",
  "Connection: close\r\n",
  "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n",
  "GET / HTTP/1.1\r\n",
  "x".repeat(200),
];

/** Statuses Gatehouse answers a request with by itself (http/rejection.ts and limits). */
const REFUSALS = new Set([400, 405, 408, 413, 417, 431, 501, 505]);

/** Every byte Gatehouse sends on one connection after `input`, until it closes. */
async function exchange(port: number, input: string): Promise<{ bytes: string; late: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    conn.close();
  }, CASE_LIMIT_MS);
  const write = (async () => {
    const data = latin1Bytes(input);
    try {
      for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
    } catch {
      // Gatehouse closed before reading it all, as it does after a refusal
    }
  })();
  let bytes = "";
  const buf = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      bytes += latin1(buf.subarray(0, n));
    }
  } catch {
    // reset after Gatehouse's close, or closed by the timer
  }
  await write;
  clearTimeout(timer);
  if (!late) conn.close();
  return { bytes, late };
}

/** The upstream answers' x-seq in order, or why the bytes are not a sequence of responses. */
function parseResponses(bytes: string): number[] | string {
  const seqs: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end < 0) return `a truncated head: ${JSON.stringify(bytes.slice(at))}`;
    const [start, ...lines] = bytes.slice(at, end).split("\r\n");
    at = end + 4;
    const status = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(start);
    if (status === null) return `a bad status line: ${JSON.stringify(start)}`;
    const code = Number(status[1]);
    if (code === 100) continue;
    const fields = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l]));
    const length = /^content-length: (\d+)$/i.exec(fields.get("content-length") ?? "");
    if (length === null) return `a response without content-length: ${JSON.stringify(start)}`;
    const body = bytes.slice(at, at + Number(length[1]));
    at += Number(length[1]);
    const seq = /^x-seq: (\d+)$/.exec(fields.get("x-seq") ?? "");
    if (seq !== null) {
      seqs.push(Number(seq[1]));
    } else if (!REFUSALS.has(code) || !new RegExp(`^${code} [A-Za-z ]+: .+\n$`).test(body)) {
      return `an unexpected answer: ${JSON.stringify(start)} ${JSON.stringify(body)}`;
    }
  }
  return seqs;
}

async function runLane(port: number, l: FuzzLane, rng: Rng, cases: number, name: string) {
  const failures: string[] = [];
  for (let k = 0; k < cases; k++) {
    const input = mutate(rng, SEEDS, WORDS);
    const answeredBefore = l.answered.length;
    const problemsBefore = l.problems.length;
    const { bytes, late } = await exchange(port, input);
    const got = parseResponses(bytes);
    const where = `${name} case ${k} (seed ${FUZZ_SEED}), input ${JSON.stringify(input)}`;
    if (late) failures.push(`${where}: the connection was still open after ${CASE_LIMIT_MS} ms`);
    if (typeof got === "string") failures.push(`${where}: ${got}`);
    if (l.problems.length > problemsBefore) {
      failures.push(`${where}: the upstream received ${l.problems.slice(problemsBefore)}`);
    }
    const answered = l.answered.slice(answeredBefore);
    if (typeof got !== "string" && got.join() !== answered.join()) {
      failures.push(`${where}: the client got answers [${got}], the upstream gave [${answered}]`);
    }
  }
  return failures;
}

Deno.test("mutated HTTP/1.1 requests: only canonical requests go upstream, every answer reaches its client", async () => {
  const lanes = Array.from({ length: FUZZ_LANES }, fuzzLane);
  await using gw = await laneProxy(
    lanes.map((l) => l.up.url),
    "h2c: off",
    "timeouts: { header_read: 200ms, keep_alive_idle: 200ms, body_idle: 200ms }",
  );
  try {
    await runLanes(gw, CASES, (i, port, rng, n) => runLane(port, lanes[i], rng, n, `lane ${i}`));
    const errors = gw.outcomes.filter((o) => o.status >= 500 && !REFUSALS.has(o.status));
    assert.deepEqual(errors.map((o) => `${o.status} ${o.reason}`), []);
  } finally {
    await Promise.all(lanes.map((l) => l.up.close()));
  }
});
