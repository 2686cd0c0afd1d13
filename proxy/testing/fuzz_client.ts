/**
 * The client side of the response fuzz tests: two requests in a row, over HTTP/1.1 or HTTP/2
 * (h2c), the first answered by whatever the test's upstream made odd, the second by its latest
 * clean answer, and what a client may get as an answer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FrameType } from "../proto/h2/frames.ts";
import { FUZZ_LANES, laneProxy, runLanes } from "./fuzz_lanes.ts";
import { CLEAN_VALUE, TOKEN } from "./fuzz_upstream.ts";
import type { Rng } from "./mutate.ts";
import { rawH2Client } from "./h2_frame_peer.ts";
import { waitFor } from "./servers.ts";
import { bytesOf, readResponse, WireReader, type WireResponse } from "./wire.ts";

const STATUS_LINE = /^HTTP\/1\.1 [1-5][0-9]{2} [\t\x20-\x7e\x80-\xff]*$/;
const NEVER_DOWN = new Set(["keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

/** Why a response Gatehouse sent is not canonical, or null. */
export function responseProblem(res: WireResponse): string | null {
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

/**
 * `GET /m` (whose answer the test made odd), then `GET /c` on the same connection if it lives,
 * else on a new one: null when the first answer was well framed and canonical (or the connection
 * closed in the middle of it) and the second is the upstream's latest (`x-seq` = `seq()`), else
 * what went wrong. HTTP/1.1, with `TE: trailers` when `te`.
 */
export async function twoRequestsH1(
  port: number,
  seq: () => number,
  te: boolean,
  limitMs: number,
): Promise<string | null> {
  let conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), limitMs);
  try {
    let reader = new WireReader(conn);
    const first = await get(conn, reader, "/m", te);
    if (first.res !== null) {
      const problem = responseProblem(first.res);
      if (problem !== null) return `the first answer: ${problem}: ${JSON.stringify(first.res.raw)}`;
    } else if (/Interrupted|canceled/.test(first.error)) {
      // Ended by the timer: the connection neither answered nor closed.
      return `the first answer: none in ${limitMs} ms (${first.error})`;
    }
    if (first.res === null || !first.open) {
      conn.close();
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      reader = new WireReader(conn);
    }
    const second = await get(conn, reader, "/c", te);
    if (second.res === null) return `the second answer: ${second.error}`;
    const got = second.res.fields.find(([n]) => n === "x-seq")?.[1];
    if (second.res.status !== 200 || got !== String(seq()) || second.res.text !== "ok") {
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
export function h2ResponseProblem(fields: readonly (readonly [string, string])[]): string | null {
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
export async function twoRequestsH2(
  port: number,
  seq: () => number,
  limitMs: number,
): Promise<string | null> {
  await using peer = await rawH2Client(port);
  const ended = (id: number) => () =>
    peer.closed || peer.received.some((f) =>
      "streamId" in f && f.streamId === id &&
      (f.type === FrameType.RST_STREAM || ("endStream" in f && f.endStream))
    );
  const first = await peer.request("GET", "/m");
  try {
    await waitFor(ended(first), "the first stream to end", limitMs);
  } catch {
    return `the first answer over HTTP/2: none in ${limitMs} ms`;
  }
  for (const head of peer.fields.get(first) ?? []) {
    if (head[0]?.[0] !== ":status") continue; // trailers
    const problem = h2ResponseProblem(head);
    if (problem !== null) {
      return `the first answer over HTTP/2: ${problem}: ${JSON.stringify(head)}`;
    }
  }
  const again = peer.closed || peer.received.some((f) => f.type === FrameType.GOAWAY)
    ? await rawH2Client(port)
    : peer;
  try {
    const second = await again.request("GET", "/c");
    await waitFor(ended(second), "the second stream to end", limitMs);
    const head = again.fields.get(second)?.[0] ?? [];
    const status = head.find(([n]) => n === ":status")?.[1];
    const got = head.find(([n]) => n === "x-seq")?.[1];
    if (status !== "200" || got !== String(seq())) {
      return `the second answer over HTTP/2 is not its own: ${JSON.stringify(head)}`;
    }
    return null;
  } finally {
    if (again !== peer) await again[Symbol.asyncDispose]();
  }
}

/**
 * A response fuzz test: a proxy in front of `lanes`' upstreams (response_header and body_idle
 * 300 ms), `run` for every lane at once, then no answer of Gatehouse's was an internal error.
 */
export async function fuzzResponses<L extends { readonly up: AsyncDisposable & { url: string } }>(
  makeLane: () => L,
  cases: number,
  run: (lane: L, port: number, rng: Rng, cases: number, name: string) => Promise<string[]>,
): Promise<void> {
  const lanes = Array.from({ length: FUZZ_LANES }, makeLane);
  try {
    await using gw = await laneProxy(
      lanes.map((l) => l.up.url),
      "",
      "timeouts: { response_header: 300ms, body_idle: 300ms }",
    );
    await runLanes(gw, cases, (i, port, rng, n) => run(lanes[i], port, rng, n, `lane ${i}`));
    const errors = gw.outcomes.filter((o) => o.status === 500);
    assert.deepEqual(errors.map((o) => o.error), []);
  } finally {
    await Promise.all(lanes.map((l) => l.up[Symbol.asyncDispose]()));
  }
}
