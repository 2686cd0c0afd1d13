/**
 * HTTP/1.1 message head parsing (RFC 9112), strict where leniency enables request smuggling:
 * no whitespace before a field's colon, no obs-fold, no control characters in values, only SP
 * and HTAB count as whitespace, Content-Length is 1*DIGIT, one unambiguous body length.
 */
import { HeaderList, listTokens, trimOws } from "../header_list.ts";
import type { RejectReason } from "../rejection.ts";
import { latin1 } from "../../bytes.ts";

/**
 * A malformed message; `status` is what a server answers (400, 501, 505; 502 for an upstream's
 * response), `reason` what the rejection counts as.
 */
export class HttpParseError extends Error {
  readonly status: number;
  readonly reason: RejectReason;
  constructor(status: number, reason: RejectReason, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: "1.0" | "1.1";
  readonly headers: HeaderList;
}

export interface ResponseHead {
  readonly version: "1.0" | "1.1";
  readonly status: number;
  readonly reason: string;
  readonly headers: HeaderList;
}

/** How the body of a message is delimited. */
export type Framing =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible chars, space, tab and obs-text; no CR, LF or NUL.
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
// deno-lint-ignore no-control-regex
const BAD_TARGET = /[\x00-\x20\x7f]/;

export function parseRequestHead(bytes: Uint8Array): RequestHead {
  const text = latin1(bytes, 0, bytes.length);
  let eol = text.indexOf("\n");
  if (eol < 0) eol = text.length;
  const line = text.charCodeAt(eol - 1) === 13 ? text.slice(0, eol - 1) : text.slice(0, eol);
  const sp1 = line.indexOf(" ");
  const sp2 = line.lastIndexOf(" ");
  if (sp1 <= 0 || sp2 === sp1) {
    throw new HttpParseError(400, "bad_request_line", "malformed request line");
  }
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const proto = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new HttpParseError(400, "bad_request_line", "malformed method");
  if (target === "" || BAD_TARGET.test(target)) {
    throw new HttpParseError(400, "bad_request_line", "malformed target");
  }
  let version: "1.0" | "1.1";
  if (proto === "HTTP/1.1") version = "1.1";
  else if (proto === "HTTP/1.0") version = "1.0";
  else if (/^HTTP\/\d\.\d$/.test(proto)) {
    throw new HttpParseError(505, "bad_version", "unsupported HTTP version");
  } else throw new HttpParseError(400, "bad_request_line", "malformed request line");
  return { method, target, version, headers: parseFields(text, eol + 1) };
}

export function parseResponseHead(bytes: Uint8Array): ResponseHead {
  const text = latin1(bytes, 0, bytes.length);
  let eol = text.indexOf("\n");
  if (eol < 0) eol = text.length;
  const line = text.charCodeAt(eol - 1) === 13 ? text.slice(0, eol - 1) : text.slice(0, eol);
  const proto = line.slice(0, 8);
  let version: "1.0" | "1.1";
  if (proto === "HTTP/1.1") version = "1.1";
  else if (proto === "HTTP/1.0") version = "1.0";
  else throw new HttpParseError(502, "bad_request_line", "malformed status line");
  const code = line.slice(9, 12);
  const status = Number(code);
  const afterCode = line.length === 12 || line.charCodeAt(12) === 32;
  // RFC 9110 15: codes outside 100..599 are invalid (what a client would make of 904 is a guess).
  if (line.charCodeAt(8) !== 32 || !/^[1-5]\d\d$/.test(code) || !afterCode) {
    throw new HttpParseError(502, "bad_request_line", "malformed status code");
  }
  const reason = line.length > 13 ? line.slice(13) : "";
  if (BAD_VALUE.test(reason)) {
    throw new HttpParseError(502, "bad_request_line", "invalid character in the reason phrase");
  }
  return { version, status, reason, headers: parseFields(text, eol + 1) };
}

function parseFields(text: string, from: number): HeaderList {
  const headers = new HeaderList();
  let pos = from;
  while (pos < text.length) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = text.length;
    const end = text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    if (end > pos) {
      const first = text.charCodeAt(pos);
      if (first === 32 || first === 9) {
        throw new HttpParseError(400, "bad_header", "obsolete line folding");
      }
      const colon = text.indexOf(":", pos);
      if (colon < 0 || colon >= end) {
        throw new HttpParseError(400, "bad_header", "header line without colon");
      }
      const name = text.slice(pos, colon);
      if (!TOKEN.test(name)) throw new HttpParseError(400, "bad_header", "malformed header name");
      const value = trimOws(text.slice(colon + 1, end));
      if (BAD_VALUE.test(value)) {
        throw new HttpParseError(400, "bad_header", "invalid character in header value");
      }
      headers.append(name, value);
    }
    pos = eol + 1;
  }
  return headers;
}

/** Body framing of a request (RFC 9112 6.3); rejects ambiguous lengths. */
export function requestFraming(head: RequestHead): Framing {
  const te = head.headers.getJoined("transfer-encoding");
  const cl = parseContentLength(head.headers.getJoined("content-length"), 400);
  if (te !== null) {
    if (head.version === "1.0") {
      throw new HttpParseError(400, "transfer_encoding", "transfer-encoding in HTTP/1.0");
    }
    if (cl !== null) {
      throw new HttpParseError(
        400,
        "transfer_encoding",
        "both transfer-encoding and content-length",
      );
    }
    const codings = listTokens(te);
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HttpParseError(501, "transfer_encoding", "unsupported transfer-encoding");
    }
    return { kind: "chunked" };
  }
  if (cl === null || cl === 0) return { kind: "none" };
  return { kind: "length", length: cl };
}

/** Body framing of a response to `method` (RFC 9112 6.3). */
export function responseFraming(method: string, head: ResponseHead): Framing {
  const s = head.status;
  if (method === "HEAD" || s < 200 || s === 204 || s === 304) {
    // No body, but a Content-Length that goes on (HEAD, 304) must be one valid length too.
    parseContentLength(head.headers.getJoined("content-length"), 502);
    return { kind: "none" };
  }
  const te = head.headers.getJoined("transfer-encoding");
  if (te !== null) {
    const codings = listTokens(te);
    if (codings[codings.length - 1] !== "chunked") return { kind: "close" };
    if (codings.length !== 1) {
      throw new HttpParseError(502, "transfer_encoding", "unsupported transfer-encoding");
    }
    return { kind: "chunked" };
  }
  const cl = parseContentLength(head.headers.getJoined("content-length"), 502);
  if (cl === null) return { kind: "close" };
  return cl === 0 ? { kind: "none" } : { kind: "length", length: cl };
}

const DIGITS = /^[0-9]+$/;
/** Larger lengths are refused (2^53 is where JavaScript numbers stop being exact). */
const MAX_DIGITS = 15;

/**
 * The value of Content-Length fields joined by ", " (`HeaderList.getJoined`), or null when there
 * is none. Each element must be 1*DIGIT (no sign, no other whitespace than SP and HTAB around
 * the commas); repeated identical values (RFC 9110 8.6: "42, 42", or the field repeated) are
 * one value, differing ones are an error with `status`.
 */
export function parseContentLength(raw: string | null, status: number): number | null {
  if (raw === null) return null;
  let value: number | null = null;
  let from = 0;
  while (true) {
    const comma = raw.indexOf(",", from);
    const part = trimOws(raw.slice(from, comma < 0 ? raw.length : comma));
    if (!DIGITS.test(part)) {
      throw new HttpParseError(status, "content_length", "malformed content-length");
    }
    const digits = part.replace(/^0+(?=.)/, "");
    if (digits.length > MAX_DIGITS) {
      throw new HttpParseError(status, "content_length", "content-length too large");
    }
    const n = Number(digits);
    if (value !== null && n !== value) {
      throw new HttpParseError(status, "content_length", "conflicting content-length values");
    }
    value = n;
    if (comma < 0) return value;
    from = comma + 1;
  }
}
