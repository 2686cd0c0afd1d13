/**
 * The exact request bytes an upstream receives from Gatehouse, for tests that compare them byte
 * for byte: a raw upstream that records them, and the expected bytes built from the request's
 * parts (Host first, the client's fields, the forwarding fields, one framing field).
 *
 * @module
 */
import { type RawRequest, type RawUpstream, rawUpstream } from "./servers.ts";
import { latin1 } from "./wire.ts";

/** A raw upstream answering "ok" (no body to HEAD), recording every request. */
export function okUpstream(): RawUpstream {
  return rawUpstream(async (req, conn) => {
    const body = req.method === "HEAD" ? "" : "ok";
    await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${body}`);
  });
}

/** Head lines joined with CRLF, the blank line, then the body. */
export function message(lines: readonly string[], body = ""): string {
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

export interface Expected {
  readonly method?: string;
  readonly target?: string;
  /** The Host Gatehouse sends. */
  readonly host: string;
  /** X-Forwarded-Host and Forwarded's host; null when the client sent no authority. */
  readonly forwardedHost?: string | null;
  /** The client's own fields as they go on (between Host and X-Forwarded-For). */
  readonly fields?: readonly string[];
  /** The one framing field Gatehouse writes, if any. */
  readonly framing?: string;
  readonly body?: string;
  /** "1.1", "1.0" or "2": the client's protocol in Via. */
  readonly via?: string;
}

/** The exact request an upstream receives, for a client on `proto`. */
export function upstreamBytes(proto: "http" | "https", e: Expected): string {
  const fh = e.forwardedHost === undefined ? e.host : e.forwardedHost;
  return message([
    `${e.method ?? "GET"} ${e.target ?? "/"} HTTP/1.1`,
    `host: ${e.host}`,
    ...(e.fields ?? ["X-Request-Id: t"]),
    "x-forwarded-for: 127.0.0.1",
    `x-forwarded-proto: ${proto}`,
    ...(fh === null ? [] : [`x-forwarded-host: ${fh}`]),
    `forwarded: for=127.0.0.1${fh === null ? "" : `;host=${fh}`};proto=${proto}`,
    "x-real-ip: 127.0.0.1",
    `via: ${e.via ?? "1.1"} gatehouse`,
    ...(e.framing ? [e.framing] : []),
  ], e.body ?? "");
}

/** What the upstream received for one request: head and body, as bytes (a byte string). */
export function received(req: RawRequest): string {
  return req.raw + latin1(req.wireBody);
}
