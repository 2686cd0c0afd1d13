/**
 * `errors`: custom error pages. A response step: every answer that passes back through it with
 * a status in `status` (the upstream's, and Gatehouse's own refusals and failures after the route
 * was found) keeps its status and its other fields, and gets the page as its body instead of its
 * own: a file read with the config ({status} and {reason} filled in), or what a service answers
 * to a GET of `path` ({status} filled in), streamed. When that service fails, times out or
 * answers other than 2xx, the original body goes out after all, so a broken page service never
 * turns an error into a worse one. Content-Length, Content-Encoding, Content-Range, ETag and
 * Last-Modified of the original go with its body.
 *
 * Tested by error_pages_test.ts.
 */
import type { ErrorPagesSpec, Middleware } from "../../config/types.ts";
import { HeaderList } from "../../proto/header_list.ts";
import type { BodyReader, OutgoingResponse } from "../../proto/message.ts";
import { reasonPhrase } from "../../proto/responses.ts";
import type { RequestContext } from "../context.ts";
import type { Built } from "./middleware.ts";
import { askService } from "./subrequest.ts";

/** Fields that describe the body being replaced. */
const BODY_FIELDS = [
  "content-length",
  "content-encoding",
  "content-range",
  "etag",
  "last-modified",
];

const encoder = new TextEncoder();

export function errorPages(def: ErrorPagesSpec & Middleware): Built {
  const matches = (status: number) => def.status.some(([lo, hi]) => status >= lo && status <= hi);
  const page = def.page;
  const files = new Map<number, Uint8Array>();
  const fileBody = (text: string, status: number) => {
    let bytes = files.get(status);
    if (bytes === undefined) {
      bytes = encoder.encode(
        text.replaceAll("{status}", String(status)).replaceAll("{reason}", reasonPhrase(status)),
      );
      files.set(status, bytes);
    }
    return bytes;
  };
  return {
    phase: {
      name: def.name,
      response(ctx, res) {
        if (!matches(res.status)) return res;
        const headers = res.headers;
        for (const field of BODY_FIELDS) headers.delete(field);
        headers.set("content-type", def.contentType);
        const original = res.body;
        let body: Uint8Array | BodyReader | null;
        if (ctx.req.method === "HEAD") {
          cancel(original);
          body = null;
        } else if (page.from === "file") {
          cancel(original);
          body = fileBody(page.text, res.status);
        } else {
          const target = page.path.replaceAll("{status}", String(res.status));
          body = servicePage(ctx, page.service, target, def.timeout, original);
        }
        return { ...res, headers, body } satisfies OutgoingResponse;
      },
    },
  };
}

function cancel(body: Uint8Array | BodyReader | null): void {
  if (body !== null && !(body instanceof Uint8Array)) body.cancel();
}

/**
 * A body read from the page service, asked on the first read; the original body when the service
 * does not give a 2xx answer.
 */
function servicePage(
  ctx: RequestContext,
  serviceName: string,
  target: string,
  timeoutMs: number,
  original: Uint8Array | BodyReader | null,
): BodyReader {
  let source: Promise<BodyReader | Uint8Array | null> | null = null;
  let sent = false;
  let release = () => {};
  const ask = async (): Promise<BodyReader | Uint8Array | null> => {
    const service = ctx.snapshot.services.get(serviceName);
    if (service === undefined) return original;
    const headers = new HeaderList();
    headers.appendLower("accept", "text/html, */*");
    const { result } = await askService(ctx, service, target, headers, timeoutMs);
    if (!result.ok) return original;
    const up = result.value;
    if (up.status < 200 || up.status >= 300) {
      up.body?.cancel();
      result.lease.release();
      return original;
    }
    cancel(original);
    release = () => result.lease.release();
    return up.body;
  };
  return {
    length: -1,
    async read() {
      const body = await (source ??= ask());
      if (body === null || (body instanceof Uint8Array && sent)) {
        release();
        return null;
      }
      if (body instanceof Uint8Array) {
        sent = true;
        return body;
      }
      try {
        const chunk = await body.read();
        if (chunk === null) release();
        return chunk;
      } catch (err) {
        release();
        throw err;
      }
    },
    cancel(reason) {
      if (source === null) {
        cancel(original);
        return;
      }
      void source.then((body) => {
        if (body !== null && !(body instanceof Uint8Array)) body.cancel(reason);
        release();
      });
    },
  };
}
