/**
 * Resolving the middlewares that ask a service of their own: `forward_auth` (an auth service)
 * and `errors` (a service of error pages, or a page file read here and recorded among the
 * config's files, so a change to it reloads the config). The service named must be an HTTP
 * service of the same file.
 *
 * Tested by http/middlewares/forward_auth_test.ts and error_pages_test.ts.
 *
 * @module
 */
import { extname } from "node:path";
import type { Context } from "./context.ts";
import { didYouMean, quote, type Segment } from "./errors.ts";
import { rawServiceProtocol } from "./resolve_tcp.ts";
import type { RawConfig } from "./schema.ts";
import type { ErrorPagesSpec, ForwardAuthSpec } from "./types.ts";

type RawMiddleware = RawConfig["middlewares"] extends ReadonlyMap<string, infer M> ? M : never;

/** Content types of page files, by extension; others are text/plain. */
const PAGE_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".xml": "application/xml",
};

/** Reports a reference to anything but an HTTP service of this file (`what` asks it). */
function checkService(
  ctx: Context,
  rawConfig: RawConfig,
  name: string,
  where: readonly Segment[],
  what: string,
): void {
  const service = rawConfig.services.get(name);
  if (service === undefined) {
    const known = rawConfig.services.size === 0
      ? "no services are defined"
      : `known: ${[...rawConfig.services.keys()].join(", ")}`;
    const hint = didYouMean(name, rawConfig.services.keys());
    ctx.error(where, `unknown service ${quote(name)}${hint} (${known})`);
  } else if (rawServiceProtocol(service) === "tcp") {
    ctx.error(where, `service ${quote(name)} has tcp:// servers: ${what} speaks HTTP`);
  }
}

export function forwardAuthSpec(
  ctx: Context,
  rawConfig: RawConfig,
  raw: NonNullable<RawMiddleware["forward_auth"]>,
): ForwardAuthSpec {
  checkService(ctx, rawConfig, raw.service, ctx.path(raw, "service"), "an auth service");
  return {
    kind: "forward_auth",
    service: raw.service,
    path: raw.path,
    timeout: raw.timeout,
    requestHeaders: raw.request_headers ?? null,
    responseHeaders: raw.response_headers,
  };
}

export async function errorPagesSpec(
  ctx: Context,
  rawConfig: RawConfig,
  raw: NonNullable<RawMiddleware["errors"]>,
): Promise<ErrorPagesSpec> {
  raw.status.forEach(([low, high], i) => {
    if (low < 400 || high > 599) {
      ctx.error(
        ctx.path(raw, "status", i),
        `status ${
          low === high ? low : `${low}-${high}`
        } is not an error: give statuses from 400 to 599`,
      );
    }
  });
  const base = { kind: "errors" as const, status: raw.status, timeout: raw.timeout };
  if ((raw.file === undefined) === (raw.service === undefined)) {
    ctx.error(ctx.path(raw), `give either "file" or "service" (where the page comes from)`);
    const page = { from: "file" as const, file: "", text: "" };
    return { ...base, page, contentType: "" };
  }
  if (raw.service !== undefined) {
    checkService(ctx, rawConfig, raw.service, ctx.path(raw, "service"), "a page service");
    const page = { from: "service" as const, service: raw.service, path: raw.path };
    return { ...base, page, contentType: raw.content_type ?? "text/html; charset=utf-8" };
  }
  const file = raw.file!;
  const text = await ctx.read(ctx.path(raw, "file"), file, "the error page") ?? "";
  const contentType = raw.content_type ??
    PAGE_TYPES[extname(file).toLowerCase()] ?? "text/plain; charset=utf-8";
  return { ...base, page: { from: "file", file: ctx.absolute(file), text }, contentType };
}
