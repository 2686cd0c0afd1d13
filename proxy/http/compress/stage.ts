/**
 * The compression stage of the pipeline: the one place that changes a response's content
 * coding. It compresses, passes an upstream's encoding through, or decodes it (and re-encodes
 * it) for a client that does not accept it, and keeps the headers true to the bytes sent.
 *
 * @module
 */
import type { Compression } from "../../config/types.ts";
import type { HeaderList } from "../../proto/header_list.ts";
import { listTokens } from "../../proto/header_list.ts";
import type { BodyReader, IncomingRequest, OutgoingResponse } from "../../proto/message.ts";
import { decodeBody, encodeBody } from "./codecs.ts";
import { planCompression, type RequestFacts } from "./policy.ts";
import { decodingRefused, sentUncompressed } from "./shortfall.ts";

export type { RequestFacts };

/** Headers describing the exact bytes of the content: wrong once the coding changes. */
const CONTENT_DIGESTS = ["content-md5", "digest", "content-digest", "repr-digest"];

/** What the stage reads from the client's request: take it before headers change for upstream. */
export function codingFacts(req: IncomingRequest): RequestFacts {
  return {
    method: req.method,
    acceptEncoding: req.headers.getJoined("accept-encoding"),
    ifNoneMatch: req.headers.getJoined("if-none-match"),
  };
}

/** `res` with its content coding chosen for this request (see policy.ts for the rules). */
export function compressResponse(
  req: RequestFacts,
  res: OutgoingResponse,
  settings: Compression | null,
): OutgoingResponse {
  const body = res.body;
  const length = body === null ? null : body.length;
  const plan = planCompression(req, { status: res.status, headers: res.headers, length }, settings);
  const headers = res.headers;
  if (plan.kind === "keep") {
    if (plan.vary) mergeVary(headers);
    return res;
  }
  if (plan.kind === "not-modified") {
    weakenEtag(headers);
    mergeVary(headers);
    return res;
  }
  const source = body instanceof Uint8Array ? bytesBody(body) : body!;
  let out = source;
  for (const coding of plan.decode) {
    const decoded = decodeBody(out, coding);
    if (decoded === null) {
      const failure = decodingRefused(coding);
      // The decoders taken so far go back; the pipeline cancels the upstream's body.
      if (out !== source) out.cancel(failure);
      throw failure;
    }
    out = decoded;
  }
  const encoded = plan.encode === null
    ? null
    : encodeBody(out, plan.encode, settings!.levels[plan.encode]);
  if (encoded !== null) {
    out = encoded;
    headers.set("content-encoding", plan.encode!);
  } else if (plan.decode.length === 0) {
    // No encoder to spare (codecs.ts, compression.max_memory): sent as it is.
    sentUncompressed();
    mergeVary(headers);
    return res;
  } else {
    if (plan.encode !== null) sentUncompressed();
    headers.delete("content-encoding");
  }
  headers.delete("content-length");
  headers.delete("accept-ranges");
  for (const name of CONTENT_DIGESTS) headers.delete(name);
  weakenEtag(headers);
  mergeVary(headers);
  return { ...res, body: out };
}

/** Adds Accept-Encoding to Vary, keeping what the upstream listed; `Vary: *` stays as it is. */
export function mergeVary(headers: HeaderList): void {
  const vary = headers.getJoined("vary");
  if (vary === null) {
    headers.appendLower("vary", "Accept-Encoding");
    return;
  }
  const tokens = listTokens(vary);
  if (tokens.includes("*") || tokens.includes("accept-encoding")) return;
  headers.set("vary", tokens.length === 0 ? "Accept-Encoding" : vary + ", Accept-Encoding");
}

/** A strong ETag becomes weak: the bytes changed, the meaning did not (RFC 9110 §8.8.1). */
export function weakenEtag(headers: HeaderList): void {
  const etag = headers.get("etag");
  if (etag !== null && etag.startsWith('"')) headers.set("etag", "W/" + etag);
}

function bytesBody(bytes: Uint8Array): BodyReader {
  let sent = false;
  return {
    length: bytes.length,
    read: () => {
      if (sent) return Promise.resolve(null);
      sent = true;
      return Promise.resolve(bytes);
    },
    cancel() {},
  };
}
