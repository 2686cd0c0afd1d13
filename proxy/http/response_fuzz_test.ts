/**
 * Mutated HTTP/1.1 responses from an upstream (seeded, reproducible), to HTTP/1.1 clients (with
 * and without `TE: trailers`) and HTTP/2 clients (h2c): whatever an upstream answers, a client
 * gets a well-framed response (the upstream's, made canonical, or Gatehouse's
 * 502/504) or a connection closed in the middle of a body, never a hang, and a later request gets
 * its own answer: nothing an upstream sent once stays in a connection to answer another request.
 *
 * GATEHOUSE_FUZZ_CASES (default 480) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed, lane and case, and the response, which reproduce it.
 */
import assert from "node:assert/strict";
import { startProxy } from "../testing/proxy.ts";
import { type RawUpstream, rawUpstream, waitFor } from "../testing/servers.ts";
import { bytesOf, readResponse, WireReader } from "../testing/wire.ts";
import { mutate, type Rng, seeded } from "../testing/mutate.ts";
import { rawH2Client } from "../testing/h2_frame_peer.ts";
import { FrameType } from "../proto/h2/frames.ts";

const LANES = 16;
const CASES = Number(Deno.env.get("GATEHOUSE_FUZZ_CASES") ?? 480);
const SEED = Number(Deno.env.get("GATEHOUSE_FUZZ_SEED") ?? 20261207);
const CASE_LIMIT_MS = 5000;

const SEEDS: readonly string[] = [
  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: 1\r\n\r\nok",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n2;e=1\r\nok\r\n0\r\nx-t: 1\r\n\r\n",
  "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n",
  'HTTP/1.1 304 Not Modified\r\netag: "a"\r\n\r\n',
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
  "HTTP/1.0 200 OK\r\n\r\nok",
  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n" +
  "connection: keep-alive, x-hop\r\nx-hop: 1\r\n\r\nok",
  "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
  "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
];

const WORDS: readonly string[] = [
  ...[" ", "\t", "\r", "\n", "\r\n", "\r\n\r\n", "\0", "\x0b", "\x7f", "\xff", ":", ";", ","],
  ...["chunked", " chunked", "gzip", "0\r\n\r\n", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "999"],
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 0\r\n",
  "Content-Length: 5\r\n",
  "Connection: close\r\n",
  "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad",
  "x".repeat(100),
];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// deno-lint-ignore no-control-regex
const CLEAN_VALUE = /^(?:[^\x00-\x20\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)?$/;
const STATUS_LINE = /^HTTP\/1\.1 [1-5][0-9]{2} [\t\x20-\x7e\x80-\xff]*$/;
const NEVER_DOWN = new Set(["keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

/** Why a response Gatehouse sent is not canonical, or null. */
function problemOf(res: Awaited<ReturnType<typeof readResponse>>): string | null {
  if (!STATUS_LINE.test(res.startLine)) return "status line";
  const seen = new Map<string, string[]>();
  for (const [name, value] of res.fields) {
    if (!TOKEN.test(name) || !CLEAN_VALUE.test(value)) return `field ${name}: ${value}`;
    const key = name.toLowerCase();
    if (NEVER_DOWN.has(key)) return `hop-by-hop field ${name}`;
    seen.set(key, [...(seen.get(key) ?? []), value]);
  }
  const length = seen.get("content-length") ?? [];
  const coding = seen.get("transfer-encoding") ?? [];
  if (length.length > 1 || coding.length > 1) return "a framing field twice";
  if (length.length > 0 && coding.length > 0) return "both framing fields";
  if (coding.length > 0 && coding[0] !== "chunked") return "transfer-encoding value";
  if (length.length > 0 && !/^(0|[1-9][0-9]*)$/.test(length[0])) return "content-length value";
  const connection = seen.get("connection") ?? [];
  if (connection.some((v) => v !== "close" && v !== "keep-alive")) return "connection value";
  return null;
}

interface Lane {
  readonly up: RawUpstream;
  /** What the upstream answers to GET /m in the current case. */
  mutated: string;
  /** Close the upstream connection after the mutated answer. */
  closeAfter: boolean;
  /** The x-seq of the upstream's last clean answer. */
  seq: number;
}

function lane(): Lane {
  const l: Lane = {
    mutated: "",
    closeAfter: false,
    seq: 0,
    up: rawUpstream(async (req, conn) => {
      if (req.target === "/m") {
        await conn.write(Uint8Array.from(l.mutated, (c) => c.charCodeAt(0)));
        if (l.closeAfter) conn.close();
        return;
      }
      const n = ++l.seq;
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-seq: ${n}\r\n\r\nok`);
    }),
  };
  return l;
}

/** One response to `path` on `conn`, or why there is none; `open` says if the connection lives. */
async function get(conn: Deno.Conn, reader: WireReader, path: string, te: boolean) {
  const fields = te ? "TE: trailers\r\n" : "";
  await conn.write(bytesOf(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n${fields}\r\n`));
  let res;
  try {
    do res = await readResponse(reader); while (res.status < 200);
  } catch (err) {
    return { res: null, error: String(err) };
  }
  const close = res.fields.some(([n, v]) => n.toLowerCase() === "connection" && v === "close");
  return { res, error: null, open: !close && !reader.done };
}

async function runCase(port: number, l: Lane, rng: Rng): Promise<string | null> {
  l.mutated = mutate(rng, SEEDS, WORDS);
  l.closeAfter = rng() < 0.3;
  const client = rng();
  return client < 0.3 ? await runH2Case(port, l) : await runH1Case(port, l, client < 0.6);
}

async function runH1Case(port: number, l: Lane, te: boolean): Promise<string | null> {
  let conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), CASE_LIMIT_MS);
  try {
    let reader = new WireReader(conn);
    const first = await get(conn, reader, "/m", te);
    if (first.res !== null) {
      const problem = problemOf(first.res);
      if (problem !== null) return `the first answer: ${problem}: ${JSON.stringify(first.res.raw)}`;
    } else if (/Interrupted|canceled/.test(first.error)) {
      // Ended by the timer: the connection neither answered nor closed.
      return `the first answer: none in ${CASE_LIMIT_MS} ms (${first.error})`;
    }
    if (first.res === null || !first.open) {
      conn.close();
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      reader = new WireReader(conn);
    }
    const second = await get(conn, reader, "/c", te);
    if (second.res === null) return `the second answer: ${second.error}`;
    const seq = second.res.fields.find(([n]) => n === "x-seq")?.[1];
    if (second.res.status !== 200 || seq !== String(l.seq) || second.res.text !== "ok") {
      return `the second answer is not its own: ${
        JSON.stringify(second.res.raw + second.res.text)
      }`;
    }
    return null;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** Why an HTTP/2 response head is not one a client may get, or null. */
function h2ProblemOf(fields: readonly (readonly [string, string])[]): string | null {
  if (fields[0]?.[0] !== ":status" || !/^[2-5][0-9]{2}$/.test(fields[0][1])) return ":status";
  const lengths: string[] = [];
  for (const [name, value] of fields.slice(1)) {
    if (name !== name.toLowerCase() || !TOKEN.test(name) || !CLEAN_VALUE.test(value)) {
      return `field ${name}: ${value}`;
    }
    if (NEVER_DOWN.has(name) || name === "connection" || name === "transfer-encoding") {
      return `connection-specific field ${name}`;
    }
    if (name === "content-length") lengths.push(value);
  }
  if (lengths.length > 1 || lengths.some((v) => !/^(0|[1-9][0-9]*)$/.test(v))) {
    return `content-length ${lengths}`;
  }
  return null;
}

/** The same two requests over h2c: the first stream ends somehow, the second gets its answer. */
async function runH2Case(port: number, l: Lane): Promise<string | null> {
  await using peer = await rawH2Client(port);
  const ended = (id: number) => () =>
    peer.closed || peer.received.some((f) =>
      "streamId" in f && f.streamId === id &&
      (f.type === FrameType.RST_STREAM || ("endStream" in f && f.endStream))
    );
  const first = await peer.request("GET", "/m");
  try {
    await waitFor(ended(first), "the first stream to end", CASE_LIMIT_MS);
  } catch {
    return `the first answer over HTTP/2: none in ${CASE_LIMIT_MS} ms`;
  }
  for (const head of peer.fields.get(first) ?? []) {
    if (head[0]?.[0] !== ":status") continue; // trailers
    const problem = h2ProblemOf(head);
    if (problem !== null) {
      return `the first answer over HTTP/2: ${problem}: ${JSON.stringify(head)}`;
    }
  }
  const again = peer.closed || peer.received.some((f) => f.type === FrameType.GOAWAY)
    ? await rawH2Client(port)
    : peer;
  try {
    const second = await again.request("GET", "/c");
    await waitFor(ended(second), "the second stream to end", CASE_LIMIT_MS);
    const head = again.fields.get(second)?.[0] ?? [];
    const status = head.find(([n]) => n === ":status")?.[1];
    const seq = head.find(([n]) => n === "x-seq")?.[1];
    if (status !== "200" || seq !== String(l.seq)) {
      return `the second answer over HTTP/2 is not its own: ${JSON.stringify(head)}`;
    }
    return null;
  } finally {
    if (again !== peer) await again[Symbol.asyncDispose]();
  }
}

async function runLane(port: number, l: Lane, rng: Rng, cases: number, name: string) {
  const failures: string[] = [];
  for (let k = 0; k < cases; k++) {
    const failure = await runCase(port, l, rng);
    if (failure !== null) {
      failures.push(
        `${name} case ${k} (seed ${SEED}), upstream sent ${JSON.stringify(l.mutated)}${
          l.closeAfter ? " and closed" : ""
        }: ${failure}`,
      );
    }
  }
  return failures;
}

Deno.test("mutated upstream responses: clients get well-framed answers, later requests their own", async () => {
  const lanes = Array.from({ length: LANES }, lane);
  const entrypoints = lanes.map((_, i) => `l${i}: { address: "127.0.0.1:0" }`);
  const routes = lanes.map((_, i) => `{ name: r${i}, entrypoints: [l${i}], service: s${i} }`);
  const services = lanes.map((l, i) => `s${i}: { servers: ["${l.up.url}"], retries: 0 }`);
  await using gw = await startProxy(`
entrypoints: { ${entrypoints.join(", ")} }
routes: [${routes.join(", ")}]
services: { ${services.join(", ")} }
timeouts: { response_header: 300ms, body_idle: 300ms }
`);
  try {
    const perLane = Math.ceil(CASES / LANES);
    const failures = (await Promise.all(
      lanes.map((l, i) =>
        runLane(gw.port(`l${i}`), l, seeded(SEED * LANES + i), perLane, `lane ${i}`)
      ),
    )).flat();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failing cases`);
    const errors = gw.outcomes.filter((o) => o.status === 500);
    assert.deepEqual(errors.map((o) => o.error), []);
  } finally {
    await Promise.all(lanes.map((l) => l.up.close()));
  }
});
