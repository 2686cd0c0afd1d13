/**
 * Whether and how a response's content coding changes: every skip rule in one place, in the
 * order they apply (see ../shared/reference/compression-rules.md and README "Compression").
 *
 * @module
 */
import type { Codec, Compression } from "../../config/types.ts";
import { listHasToken, listTokens } from "../../proto/header_list.ts";
import type { HeaderList } from "../../proto/header_list.ts";
import {
  type AcceptEncoding,
  negotiate,
  parseAcceptEncoding,
  weightOf,
} from "./accept_encoding.ts";
import { type Decodable, decodableCoding } from "./codecs.ts";

/** What the compression stage needs from the request, read before it was sent upstream. */
export interface RequestFacts {
  readonly method: string;
  /** The client's Accept-Encoding, all fields joined; null when it sent none. */
  readonly acceptEncoding: string | null;
  /** The client's If-None-Match, all fields joined; null when it sent none. */
  readonly ifNoneMatch: string | null;
}

/** The response facts the decision reads. */
export interface ResponseFacts {
  readonly status: number;
  readonly headers: HeaderList;
  /** Body length in bytes, -1 when unknown, null when there is no body. */
  readonly length: number | null;
}

/** What to do with a response. */
export type Plan =
  /** Leave it as it is; with `vary`, add Accept-Encoding to Vary (the choice depended on it). */
  | { readonly kind: "keep"; readonly vary: boolean; readonly reason: string }
  /** Remove the codings in `decode` (outermost first), then encode with `encode` (null: none). */
  | {
    readonly kind: "recode";
    readonly decode: readonly Decodable[];
    readonly encode: Codec | null;
  }
  /** A 304 revalidating a response Gatehouse compressed: give back the weak ETag it sent. */
  | { readonly kind: "not-modified" };

const keep = (reason: string, vary = false): Plan => ({ kind: "keep", vary, reason });

/** Decides what the compression stage does with one response. */
export function planCompression(
  req: RequestFacts,
  res: ResponseFacts,
  settings: Compression | null,
): Plan {
  if (settings === null) return keep("compression off for this route");
  const headers = res.headers;
  if (res.status === 304) {
    return revalidatesOurs(req, headers) ? { kind: "not-modified" } : keep("304");
  }
  if (req.method === "HEAD") return keep("HEAD request");
  if (res.status < 200 || res.status === 204) return keep(`status ${res.status}`);
  if (res.status === 206 || headers.has("content-range")) return keep("range response");
  if (listHasToken(headers.getJoined("cache-control"), "no-transform")) {
    return keep("Cache-Control: no-transform");
  }
  if (res.length === null || res.length === 0) return keep("no body");
  const accept = parseAcceptEncoding(req.acceptEncoding);
  const codings = listTokens(headers.getJoined("content-encoding"))
    .filter((c) => c !== "identity").map((c) => c === "x-gzip" ? "gzip" : c);
  if (codings.length > 0) {
    return planEncoded(accept, codings, compressible(headers, settings), settings);
  }
  if (!compressible(headers, settings)) return keep("type not compressible");
  if (res.length >= 0 && res.length < settings.minSize) return keep("below min_size");
  if (accept === null) return keep("no Accept-Encoding", true);
  const chosen = negotiate(accept, settings.codecs);
  if (chosen === null || chosen === "identity") return keep("client accepts no codec", true);
  return { kind: "recode", decode: [], encode: chosen };
}

/** A body the upstream already encoded: pass it through, or decode and re-encode it. */
function planEncoded(
  accept: AcceptEncoding | null,
  codings: readonly string[],
  compressibleType: boolean,
  settings: Compression,
): Plan {
  // No Accept-Encoding means any coding is acceptable (RFC 9110 §12.5.3).
  if (accept === null || codings.every((c) => weightOf(accept, c) > 0)) {
    return keep("client accepts the upstream's coding");
  }
  const decode: Decodable[] = [];
  for (const coding of codings.toReversed()) {
    const known = decodableCoding(coding);
    if (known === null) return keep(`cannot decode "${coding}"`);
    decode.push(known);
  }
  const chosen = compressibleType ? negotiate(accept, settings.codecs) : null;
  return { kind: "recode", decode, encode: chosen === "identity" ? null : chosen };
}

/** True when `type` (a Content-Type value) matches one of the allow-list patterns. */
export function typeMatches(contentType: string, types: readonly string[]): boolean {
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const slash = type.indexOf("/");
  if (slash <= 0) return false;
  for (const pattern of types) {
    if (pattern === type) return true;
    const star = pattern.indexOf("/*");
    if (star < 0 || type.slice(0, slash) !== pattern.slice(0, star)) continue;
    const suffix = pattern.slice(star + 2);
    if (suffix === "" || (type.endsWith(suffix) && type.length > slash + 1 + suffix.length)) {
      return true;
    }
  }
  return false;
}

function compressible(headers: HeaderList, settings: Compression): boolean {
  const type = headers.get("content-type");
  return type !== null && typeMatches(type, settings.types);
}

/**
 * True when a 304's strong ETag is one Gatehouse weakened on a compressed 200: the client
 * sent it back as `W/"..."` in If-None-Match, and the upstream (weak comparison) matched it.
 */
function revalidatesOurs(req: RequestFacts, headers: HeaderList): boolean {
  const etag = headers.get("etag");
  if (etag === null || !etag.startsWith('"') || req.ifNoneMatch === null) return false;
  return req.acceptEncoding !== null && req.ifNoneMatch.includes("W/" + etag);
}
