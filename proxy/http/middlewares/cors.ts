/**
 * CORS for the `headers` middleware: preflights (OPTIONS with Origin and
 * Access-Control-Request-Method) are answered here and never reach the upstream; other answers
 * get Access-Control-Allow-Origin (and credentials, exposed headers) when the Origin is allowed,
 * and `Vary: Origin` whenever the answer depends on the Origin, merged into the upstream's Vary.
 *
 * Tested by headers_test.ts.
 */
import type { Cors } from "../../config/types.ts";
import { HeaderList, listHasToken } from "../../proto/header_list.ts";
import type { IncomingRequest, OutgoingResponse } from "../../proto/message.ts";

/** Origin rules, compiled once. */
export class CorsPolicy {
  readonly #cors: Cors;
  readonly #any: boolean;
  readonly #exact: Set<string>;
  readonly #patterns: { prefix: string; suffix: string }[] = [];
  readonly #methods: string;
  readonly #exposed: string;

  constructor(cors: Cors) {
    this.#cors = cors;
    this.#any = cors.allowOrigins.includes("*");
    this.#exact = new Set(cors.allowOrigins.filter((o) => !o.includes("*")));
    for (const o of cors.allowOrigins) {
      const star = o.indexOf("://*.");
      if (star > 0) {
        this.#patterns.push({ prefix: o.slice(0, star + 3), suffix: o.slice(star + 4) });
      }
    }
    this.#methods = cors.allowMethods.join(", ");
    this.#exposed = cors.exposeHeaders.join(", ");
  }

  /** The answer's Allow-Origin value depends on the request's Origin (so: Vary: Origin). */
  get variesByOrigin(): boolean {
    return !this.#any || this.#cors.allowCredentials;
  }

  allows(origin: string): boolean {
    if (this.#any) return true;
    const o = origin.toLowerCase();
    if (this.#exact.has(o)) return true;
    for (const { prefix, suffix } of this.#patterns) {
      if (o.length <= prefix.length + suffix.length) continue;
      if (!o.startsWith(prefix) || !o.endsWith(suffix)) continue;
      const label = o.slice(prefix.length, o.length - suffix.length);
      if (!label.includes(".") && !label.includes("/") && !label.includes(":")) return true;
    }
    return false;
  }

  /** True for a CORS preflight. */
  isPreflight(req: IncomingRequest): boolean {
    return req.method === "OPTIONS" && req.headers.has("origin") &&
      req.headers.has("access-control-request-method");
  }

  /** The answer to an allowed preflight: 204 with what is allowed. */
  preflight(req: IncomingRequest): OutgoingResponse {
    const origin = req.headers.get("origin")!;
    const headers = new HeaderList();
    this.#allowOrigin(headers, origin);
    headers.appendLower("access-control-allow-methods", this.#methods);
    const asked = req.headers.getJoined("access-control-request-headers");
    const allowed = this.#cors.allowHeaders;
    if (allowed.includes("*")) {
      const value = this.#cors.allowCredentials ? asked : "*";
      if (value !== null && value !== "") {
        headers.appendLower("access-control-allow-headers", value);
      }
    } else if (allowed.length > 0) {
      headers.appendLower("access-control-allow-headers", allowed.join(", "));
    }
    if (this.#cors.maxAge !== null) {
      headers.appendLower("access-control-max-age", String(this.#cors.maxAge));
    }
    headers.appendLower(
      "vary",
      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    );
    return { status: 204, headers, body: null };
  }

  /** Adds the CORS fields of an actual (not preflight) request's answer. */
  decorate(req: IncomingRequest, res: OutgoingResponse): void {
    const headers = res.headers;
    const origin = req.headers.get("origin");
    if (this.variesByOrigin) addVary(headers, "Origin");
    if (origin === null || !this.allows(origin)) return;
    this.#allowOrigin(headers, origin);
    if (this.#exposed !== "") headers.set("access-control-expose-headers", this.#exposed);
  }

  #allowOrigin(headers: HeaderList, origin: string): void {
    const credentials = this.#cors.allowCredentials;
    headers.set("access-control-allow-origin", this.variesByOrigin ? origin : "*");
    if (credentials) headers.set("access-control-allow-credentials", "true");
  }
}

/** Adds `token` to Vary unless it is there already or Vary is "*". */
export function addVary(headers: HeaderList, token: string): void {
  const vary = headers.getJoined("vary");
  if (vary === null || vary.trim() === "") headers.set("vary", token);
  else if (vary.trim() !== "*" && !listHasToken(vary, token)) {
    headers.set("vary", `${vary}, ${token}`);
  }
}
