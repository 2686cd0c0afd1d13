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
import { SYSTEM_PYTHON } from "./prometheus.ts";
import { lineSplitter } from "./python_ws.ts";
import { waitFor } from "./servers.ts";

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
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: [SERVICE, "--slow", String(slowSeconds)],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const requests: AuthRequest[] = [];
  let port = 0;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  const reading = (async () => {
    for await (const line of lines) {
      const msg = JSON.parse(line);
      if (typeof msg.port === "number") port = msg.port;
      else requests.push(msg);
    }
  })();
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await reading;
    })();
  try {
    await waitFor(() => port !== 0, "the auth service to listen", 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
