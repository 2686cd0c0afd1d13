/**
 * An oauth2-proxy-style auth service in another process and another HTTP implementation
 * (auth_service.py, Python's http.server), for the forward_auth tests: a session cookie gets
 * 202 with the user's fields, a browser without one a 302 to the login page, others 401.
 *
 * ```ts
 * await using auth = await authService();
 * // services: { auth: { servers: [${auth.url}] } }, forward_auth: { service: auth, path: /oauth2/auth }
 * ```
 *
 * @module
 */
import { jsonLinePeer } from "./json_line_peer.ts";

const SERVICE = new URL("./auth_service.py", import.meta.url).pathname;

/** The session cookie the service knows (user "alice", "alice@example.com"). */
export const ALICE_COOKIE = "_oauth2_proxy=valid-session-alice";

/** One request the auth service received. */
export interface AuthRequest {
  readonly path: string;
  /** Fields as received, names as sent. */
  readonly headers: [string, string][];
}

export interface AuthService extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly requests: AuthRequest[];
  close(): Promise<void>;
}

/** Starts the service; GET /slow answers after `slowSeconds`. */
export async function authService(slowSeconds = 0): Promise<AuthService> {
  const peer = await jsonLinePeer<AuthRequest>(
    [SERVICE, "--slow", String(slowSeconds)],
    "the auth service",
  );
  return {
    port: peer.port,
    url: `http://127.0.0.1:${peer.port}`,
    requests: peer.records,
    close: peer.close,
    [Symbol.asyncDispose]: peer.close,
  };
}
