/**
 * The upstream side of the fuzz tests: a raw upstream that checks every request it receives is
 * canonical (what Gatehouse may ever send: the path as routing normalised it, one framing field,
 * clean tokens and values, no hop-by-hop fields, a body exactly as framed) and answers each with a
 * sequence number, so a test can match the answers its clients got with the requests the
 * upstream saw.
 *
 * @module
 */
import { type RawRequest, type RawUpstream, rawUpstream } from "./servers.ts";
import { latin1 } from "./wire.ts";

/** A field name (RFC 9110 token). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value as Gatehouse sends it: no controls but HTAB, no whitespace at either end. */
// deno-lint-ignore no-control-regex
export const CLEAN_VALUE = /^(?:[^\x00-\x20\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)?$/;
// deno-lint-ignore no-control-regex
const TARGET = /^[^\x00-\x20\x7f]+$/;
/** Path rules (http/target_rules.ts), written again here so that a bug there cannot hide. */
const BROKEN_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const AMBIGUOUS_ESCAPE = /%(2f|5c|3b|25|3f|23|00)/i;
const DOT_PARAMETERS = /\/\.\.?;/;
/** What normalisation leaves in no forwarded path (routes forward the normalised one). */
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
const LOWER_ESCAPE = /%(?:[a-f][0-9a-fA-F]|[0-9A-F][a-f])/;
const UNRESERVED_ESCAPE = /%(?:3[0-9]|4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|2D|2E|5F|7E)/i;
// deno-lint-ignore no-control-regex
const HOST_LINE = /^host: [^\x00-\x20\x7f@/\\]+$/;
/** What the fuzz clients (never trusted proxies) may not pass on; written again, as above. */
const CLIENT_CLAIMS = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-url",
  "x-rewrite-url",
  "x-forwarded-prefix",
  "true-client-ip",
]);
const NEVER_UP = new Set([
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "http2-settings",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Why a request an upstream received is not canonical, or null when it is. */
function problemOf(req: RawRequest): string | null {
  const lines = req.raw.slice(0, -4).split("\r\n");
  const start = /^([^ ]+) ([^ ]+) HTTP\/1\.1$/.exec(lines[0]);
  if (start === null || !TOKEN.test(start[1]) || !TARGET.test(start[2])) return "request line";
  if (/[a-z]/.test(start[1])) return "a method with lower-case letters";
  const path = start[2].split("?")[0];
  if (start[2].includes("#")) return "fragment in the target";
  if (BROKEN_ESCAPE.test(path)) return "broken % escape in the path";
  if (AMBIGUOUS_ESCAPE.test(path)) return "ambiguous encoded character in the path";
  if (path.includes("\\")) return "backslash in the path";
  if (path.includes("//")) return "a run of / in the path";
  if (DOT_SEGMENT.test(path.replace(/%2e/gi, "."))) return "a dot segment in the path";
  if (LOWER_ESCAPE.test(path)) return "a lower-case escape in the path";
  if (UNRESERVED_ESCAPE.test(path)) return "an escaped unreserved character in the path";
  if (DOT_PARAMETERS.test(path.replace(/%2e/gi, "."))) return "dot segment with parameters";
  if (!HOST_LINE.test(lines[1] ?? "")) return "host line";
  const seen = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(": ");
    if (colon <= 0) return `field line ${JSON.stringify(line)}`;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (!TOKEN.test(name) || !CLEAN_VALUE.test(value)) return `field ${JSON.stringify(line)}`;
    const key = name.toLowerCase();
    if (NEVER_UP.has(key)) return `hop-by-hop field ${name}`;
    if (CLIENT_CLAIMS.has(key)) return `a client's ${name} (only a trusted proxy's go on)`;
    seen.set(key, [...(seen.get(key) ?? []), value]);
  }
  const singletons = ["host", "content-length", "transfer-encoding", "connection", "upgrade"];
  for (const key of [...singletons, "authorization"]) {
    if ((seen.get(key)?.length ?? 0) > 1) return `${key} twice`;
  }
  const length = seen.get("content-length")?.[0];
  const coding = seen.get("transfer-encoding")?.[0];
  if (length !== undefined && coding !== undefined) return "both framing fields";
  if (length !== undefined && !/^(0|[1-9][0-9]*)$/.test(length)) return "content-length value";
  if (length !== undefined && Number(length) !== req.wireBody.length) return "body length";
  if (coding !== undefined && coding !== "chunked") return "transfer-encoding value";
  if (coding !== undefined && !canonicalChunks(latin1(req.wireBody))) return "chunked body";
  if (coding === undefined && length === undefined && req.wireBody.length > 0) return "body";
  if (seen.get("x-real-ip")?.join() !== "127.0.0.1") return "x-real-ip not the peer's";
  const connection = seen.get("connection")?.[0];
  if ((connection !== undefined) !== seen.has("upgrade")) return "connection without upgrade";
  if (connection !== undefined && connection.toLowerCase() !== "upgrade") return "connection";
  return null;
}

/** Chunk sizes in plain hex without extensions, and clean trailer fields. */
function canonicalChunks(wire: string): boolean {
  let at = 0;
  while (true) {
    const eol = wire.indexOf("\r\n", at);
    const size = wire.slice(at, eol);
    if (eol < 0 || !/^[0-9a-f]+$/.test(size)) return false;
    const n = parseInt(size, 16);
    at = eol + 2;
    if (n === 0) break;
    if (wire.slice(at + n, at + n + 2) !== "\r\n") return false;
    at += n + 2;
  }
  const trailers = wire.slice(at);
  if (!trailers.endsWith("\r\n")) return false;
  for (const line of trailers.slice(0, -2).split("\r\n").filter((l) => l !== "")) {
    const m = /^([^:]+): (.*)$/.exec(line);
    if (m === null || !TOKEN.test(m[1]) || !CLEAN_VALUE.test(m[2])) return false;
    if (["content-length", "transfer-encoding", "host"].includes(m[1].toLowerCase())) return false;
  }
  return true;
}

/** One fuzzing lane's upstream: the answers it gave and the non-canonical requests it saw. */
export interface FuzzLane {
  readonly up: RawUpstream;
  /** The x-seq of every answer the upstream gave, in order. */
  readonly answered: number[];
  readonly problems: string[];
}

/**
 * A lane's upstream: answers canonical requests with `x-seq: n` (200, or 403 to an upgrade),
 * and closes the connection on the others.
 */
export function fuzzLane(): FuzzLane {
  const answered: number[] = [];
  const problems: string[] = [];
  let seq = 0;
  const up = rawUpstream(async (req, conn) => {
    const problem = problemOf(req);
    if (problem !== null) {
      problems.push(`${problem}: ${JSON.stringify(req.raw + latin1(req.wireBody))}`);
      conn.close();
      return;
    }
    const n = ++seq;
    answered.push(n);
    // An upgrade is refused (a 2xx that does not switch would be the proxy's 502 by design).
    const upgrade = req.fields.some(([name]) => name.toLowerCase() === "upgrade");
    const status = upgrade ? "403 Forbidden" : "200 OK";
    await conn.write(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nx-seq: ${n}\r\n\r\n`);
  });
  return { up, answered, problems };
}
