/**
 * The admin endpoint (loopback by default): liveness and readiness probes.
 */
import type { Address } from "../config/types.ts";

export interface AdminState {
  /** Config loaded and listeners up. */
  readonly ready: () => boolean;
  /** Shutdown in progress. */
  readonly draining: () => boolean;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the admin endpoint on `address`. */
export function startAdmin(address: Address, state: AdminState): AdminServer {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    automaticCompression: false,
    onListen() {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return text(200, "ok\n");
    if (path === "/readyz") {
      if (state.draining()) return text(503, "draining\n");
      return state.ready() ? text(200, "ready\n") : text(503, "not ready\n");
    }
    return text(404, "not found: try /healthz or /readyz\n");
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}
