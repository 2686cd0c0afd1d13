/**
 * The admin endpoint, on loopback by default:
 *   GET  /healthz   liveness (the process answers)
 *   GET  /readyz    config loaded and listeners up; 503 while draining
 *   GET  /metrics   Prometheus text format
 *   GET  /status    JSON: config version and source, entrypoints, routes, services with
 *                   per-server health, last reload result
 *   POST /reload    reload the config file now; 200 with the result, 422 when it was refused
 * With `admin.token_env`, every path but the two probes needs `Authorization: Bearer <token>`;
 * when that variable cannot be read, those paths answer 503 (fail closed), never open.
 */
import type { Address } from "../config/types.ts";

export interface AdminDeps {
  /** Config loaded and listeners up. */
  readonly ready: () => boolean;
  readonly draining: () => boolean;
  readonly metrics: () => Promise<{ contentType: string; text: string }>;
  readonly status: () => unknown | Promise<unknown>;
  /** Reloads the config; `ok` false means it was refused (the result is sent as JSON). */
  readonly reload: () => Promise<{ readonly ok: boolean }>;
  readonly token: () => AdminToken;
}

/**
 * The admin token policy: none configured, a token to require, or a configured token that
 * cannot be read (then protected paths refuse every request: fail closed).
 */
export type AdminToken =
  | { readonly kind: "none" }
  | { readonly kind: "bearer"; readonly value: string }
  | { readonly kind: "unavailable"; readonly reason: string };

/** Reads the token named by `admin.token_env` (null: none configured). */
export function readAdminToken(env: string | null): AdminToken {
  if (env === null) return { kind: "none" };
  let value: string | undefined;
  try {
    value = Deno.env.get(env);
  } catch {
    return {
      kind: "unavailable",
      reason: `admin.token_env names ${env}, which Gatehouse may not read ` +
        `(run with --allow-env=${env}; the container allows GATEHOUSE_* only)`,
    };
  }
  if (value === undefined || value === "") {
    return { kind: "unavailable", reason: `admin.token_env names ${env}, which is not set` };
  }
  return { kind: "bearer", value };
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the admin endpoint on `address`; throws a readable error when it cannot bind. */
export function startAdmin(address: Address, deps: AdminDeps): AdminServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      automaticCompression: false,
      onListen() {},
    }, (req) => handle(req, deps));
  } catch (err) {
    throw new Error(
      `Cannot listen on ${address.hostname}:${address.port} for the admin API: ${
        (err as Error).message
      } (change admin.address, or set it to "off")`,
    );
  }
  return { port: server.addr.port, close: () => server.shutdown() };
}

async function handle(req: Request, deps: AdminDeps): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path === "/healthz") return text(200, "ok\n");
  if (path === "/readyz") {
    if (deps.draining()) return text(503, "draining\n");
    return deps.ready() ? text(200, "ready\n") : text(503, "not ready\n");
  }
  const token = deps.token();
  if (token.kind === "unavailable") {
    return text(503, `${token.reason}: every admin path but the probes is refused\n`);
  }
  if (token.kind === "bearer" && !authorized(req.headers.get("authorization"), token.value)) {
    return new Response("unauthorized: send Authorization: Bearer <token>\n", {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="gatehouse-admin"', ...TEXT },
    });
  }
  switch (path) {
    case "/metrics": {
      if (req.method !== "GET") return text(405, "use GET\n");
      const { contentType, text: body } = await deps.metrics();
      return new Response(body, { headers: { "content-type": contentType, ...NO_STORE } });
    }
    case "/status":
      if (req.method !== "GET") return text(405, "use GET\n");
      return json(200, await deps.status());
    case "/reload": {
      if (req.method !== "POST") return text(405, "use POST\n");
      const result = await deps.reload();
      return json(result.ok ? 200 : 422, result);
    }
  }
  return text(404, "not found: /healthz, /readyz, /metrics, /status, POST /reload\n");
}

/** Compares the bearer token in constant time. */
function authorized(header: string | null, token: string): boolean {
  if (header === null || !header.startsWith("Bearer ")) return false;
  const given = new TextEncoder().encode(header.slice(7).trim());
  const want = new TextEncoder().encode(token);
  let diff = given.length ^ want.length;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ (given[i] ?? 0);
  return diff === 0;
}

const NO_STORE = { "cache-control": "no-store" };
const TEXT = { "content-type": "text/plain; charset=utf-8", ...NO_STORE };

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: TEXT });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json", ...NO_STORE },
  });
}
