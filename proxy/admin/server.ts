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
 *
 * Served by Gatehouse's own HTTP/1.1 engine and accept loop, not Deno.serve: Deno.serve's
 * listener stops for good on the first failed accept (the open-file limit reached, say) and
 * rejects a promise nobody can handle in time, which ended the whole process. This one waits
 * for descriptors to free up, like every entrypoint (net/accept.ts), and answers again.
 */
import type { Address } from "../config/types.ts";
import { type AcceptFailure, acceptLoop } from "../net/accept.ts";
import { ConnectionRegistry, TrackedConnection } from "../net/connections.ts";
import { HeaderList } from "../proto/header_list.ts";
import { type H1Limits, serveH1 } from "../proto/h1/server.ts";
import type { IncomingRequest, OutgoingResponse } from "../proto/message.ts";
import { monotonicNow } from "../clock.ts";
import type { Rejection } from "../proto/rejection.ts";
import { log } from "../telemetry/log.ts";
import { LogThrottle } from "../telemetry/log_throttle.ts";

const logger = log("admin");

export interface AdminDeps {
  /** Config loaded and listeners up. */
  readonly ready: () => boolean;
  readonly draining: () => boolean;
  readonly metrics: () => Promise<{ contentType: string; text: string }>;
  readonly status: () => unknown | Promise<unknown>;
  /** Reloads the config; `ok` false means it was refused (the result is sent as JSON). */
  readonly reload: () => Promise<{ readonly ok: boolean }>;
  readonly token: () => AdminToken;
  /** Hears of each request refused (counted by the caller). */
  readonly refused?: (reason: AdminRefusal) => void;
}

/**
 * Why the admin endpoint refused a request: one the HTTP/1.1 engine would not take (bad framing,
 * a head too large), one without the right bearer token, or any but the probes while the
 * configured token cannot be read.
 */
export type AdminRefusal = "malformed" | "unauthorized" | "token_unavailable";

/** Every AdminRefusal, for metrics that start at 0. */
export const ADMIN_REFUSALS: readonly AdminRefusal[] = [
  "malformed",
  "unauthorized",
  "token_unavailable",
];

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
  /** Stops accepting at once; resolves when the requests under way are answered (at most 5 s). */
  close(): Promise<void>;
}

/** The admin endpoint's own HTTP/1.1 bounds (scrapers keep their connections alive). */
const LIMITS: H1Limits = {
  headerReadMs: 10_000,
  keepAliveIdleMs: 75_000,
  maxHeaderBytes: 16 * 1024,
  sendIdleMs: 30_000,
};
const CLOSE_MS = 5_000;
/** At most one line a second for refused requests (an exposed port gets scanned). */
const REFUSAL_LOG_MS = 1000;

/**
 * Starts the admin endpoint on `address`; throws a readable error when it cannot bind.
 * `onAcceptFailure` hears of each failed accept (counted and logged by the caller).
 */
export function startAdmin(
  address: Address,
  deps: AdminDeps,
  onAcceptFailure?: (failure: AcceptFailure) => void,
): AdminServer {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: address.hostname, port: address.port });
  } catch (err) {
    throw new Error(
      `Cannot listen on ${address.hostname}:${address.port} for the admin API: ${
        (err as Error).message
      } (change admin.address, or set it to "off")`,
    );
  }
  const registry = new ConnectionRegistry();
  const refusals = new LogThrottle(REFUSAL_LOG_MS);
  const refused = (reason: AdminRefusal, client: string, status: number, why: string) => {
    deps.refused?.(reason);
    if (!refusals.count()) return;
    logger.warning("The admin endpoint refused a request from {client}: {status} {reason}", {
      client,
      status,
      reason: why,
    });
    refusals.logged();
  };
  const handler = async (req: IncomingRequest) => {
    const a = await answer(req, deps);
    if (a.refused !== undefined) {
      refused(a.refused, req.client.address, a.status, REFUSAL_TEXT[a.refused]);
    }
    return toOutgoing(a);
  };
  const onRejected = (rejection: Rejection, _head: unknown, client: { address: string }) =>
    refused("malformed", client.address, rejection.status, rejection.message);
  acceptLoop(
    listener,
    (conn) => {
      conn.setNoDelay(true);
      const track = new TrackedConnection("admin", "http", () => conn.close());
      track.state = "idle";
      track.deadline = monotonicNow() + LIMITS.headerReadMs;
      registry.add(track);
      const peer = conn.remoteAddr;
      serveH1(conn, {
        client: {
          address: peer.hostname,
          port: peer.port,
          entrypoint: "admin",
          tls: false,
          serverName: null,
        },
        track,
        registry,
        limits: () => LIMITS,
        handler,
        onRejected,
      });
    },
    undefined,
    onAcceptFailure,
  );
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await registry.drain(CLOSE_MS);
    },
  };
}

const REFUSAL_TEXT: Readonly<Record<AdminRefusal, string>> = {
  malformed: "malformed request",
  unauthorized: "no or a wrong bearer token",
  token_unavailable: "the admin token cannot be read",
};

/** What the admin endpoint answers: a status, its body, its content type and extra headers. */
interface Answer {
  readonly status: number;
  readonly body: string;
  /** Set when the answer refuses the request. */
  readonly refused?: AdminRefusal;
  readonly type: string;
  readonly headers?: Readonly<Record<string, string>>;
}

async function answer(req: IncomingRequest, deps: AdminDeps): Promise<Answer> {
  const path = pathOf(req.target);
  if (path === "/healthz") return text(200, "ok\n");
  if (path === "/readyz") {
    if (deps.draining()) return text(503, "draining\n");
    return deps.ready() ? text(200, "ready\n") : text(503, "not ready\n");
  }
  const token = deps.token();
  if (token.kind === "unavailable") {
    return {
      ...text(503, `${token.reason}: every admin path but the probes is refused\n`),
      refused: "token_unavailable",
    };
  }
  if (token.kind === "bearer" && !authorized(req.headers.get("authorization"), token.value)) {
    return {
      status: 401,
      body: "unauthorized: send Authorization: Bearer <token>\n",
      type: TEXT,
      headers: { "www-authenticate": 'Bearer realm="gatehouse-admin"' },
      refused: "unauthorized",
    };
  }
  switch (path) {
    case "/metrics": {
      if (req.method !== "GET") return text(405, "use GET\n");
      const { contentType, text: body } = await deps.metrics();
      return { status: 200, body, type: contentType };
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

/** The path of an origin-form or absolute-form target, without its query. */
function pathOf(target: string): string {
  if (target.startsWith("/")) {
    const q = target.indexOf("?");
    return q < 0 ? target : target.slice(0, q);
  }
  try {
    return new URL(target).pathname;
  } catch {
    return "";
  }
}

const TEXT = "text/plain; charset=utf-8";
const encoder = new TextEncoder();

function text(status: number, body: string): Answer {
  return { status, body, type: TEXT };
}

function json(status: number, value: unknown): Answer {
  return { status, body: JSON.stringify(value, null, 2) + "\n", type: "application/json" };
}

function toOutgoing(a: Answer): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", a.type);
  headers.appendLower("cache-control", "no-store");
  for (const [name, value] of Object.entries(a.headers ?? {})) headers.appendLower(name, value);
  return { status: a.status, headers, body: encoder.encode(a.body) };
}
