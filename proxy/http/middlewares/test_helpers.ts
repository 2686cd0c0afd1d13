/**
 * Helpers for the middleware tests: a proxy with a plain entrypoint `web` and a TLS one
 * `websecure` (HTTP/1.1 and HTTP/2), one route to `app` running the given middlewares, and
 * requests over either protocol.
 *
 * @module
 */
import { startProxy, type TestProxy, tlsClient, yaml } from "../../testing/proxy.ts";

export interface MiddlewareProxyOptions {
  /** The `middlewares:` section's entries, as YAML (indented here). */
  readonly middlewares: string;
  /** Flow-map entries added to the route, e.g. `middlewares: [a, b]`. */
  readonly route: string;
  /** Top-level YAML appended to the file. */
  readonly config?: string;
}

/** A proxy in front of `upstream` whose one route runs middlewares. */
export function middlewareProxy(upstream: string, o: MiddlewareProxyOptions): Promise<TestProxy> {
  return startProxy(
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app, ${o.route} }]
    services:
      app: { servers: [${upstream}] }
    middlewares:
  ` + o.middlewares.split("\n").map((l) => "  " + l).join("\n") + "\n" + (o.config ?? ""),
  );
}

/** The protocols every middleware test runs over. */
export const PROTOCOLS = ["1.1", "2"] as const;

/** Sends a request over HTTP/1.1 (plain entrypoint) or HTTP/2 (TLS entrypoint). */
export async function request(
  gw: TestProxy,
  version: "1.1" | "2",
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  if (version === "1.1") return await fetch(gw.url(path), init);
  const client = await tlsClient("2");
  try {
    const res = await fetch(gw.url(path, "websecure"), { ...init, client });
    const body = new Uint8Array(await res.arrayBuffer());
    return new Response(res.status === 204 || res.status === 304 ? null : body, {
      status: res.status,
      headers: res.headers,
    });
  } finally {
    client.close();
  }
}
