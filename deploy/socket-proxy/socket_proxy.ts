/**
 * A read-only proxy for the Docker Engine API: Gatehouse's Docker provider talks to it over TCP
 * on a private network instead of holding the Docker socket, which is root-equivalent (whoever
 * can POST to it can start a privileged container). It forwards to the socket only GET (and
 * HEAD) requests for the endpoints Gatehouse reads: /_ping, /version, /containers/json and
 * /events. Everything else, including `GET /containers/{id}/json` (environment variables, so
 * secrets) and `/containers/{id}/logs`, is refused with 403 and one JSON log line on stdout.
 *
 *   PORT (default 2375): where it listens, on all addresses of its container
 *   DOCKER_SOCKET (default /var/run/docker.sock): the engine's socket
 *
 * Used by docker-compose.yml and the e2e tests; tested by socket_proxy_test.ts.
 *
 * @module
 */

const ALLOWED = /^(?:\/v[0-9]+\.[0-9]+)?\/(?:_ping|version|containers\/json|events)$/;

/** Why a request is refused, or null when it may pass. */
function refusal(method: string, path: string): string | null {
  if (method !== "GET" && method !== "HEAD") {
    return `Cannot ${method} ${path}: this socket proxy forwards GET only`;
  }
  if (!ALLOWED.test(path)) {
    return `Cannot GET ${path}: this socket proxy forwards only /_ping, /version, ` +
      `/containers/json and /events`;
  }
  return null;
}

/** Hop-by-hop fields are the proxy's own, never forwarded. */
const HOP = ["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"];

/** The request handler forwarding to the engine at `socket`. */
export function socketProxy(socket: string): (req: Request) => Promise<Response> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  return async (req) => {
    const url = new URL(req.url);
    const refused = refusal(req.method, url.pathname);
    if (refused !== null) {
      console.log(JSON.stringify({ refused: `${req.method} ${url.pathname}`, message: refused }));
      return Response.json({ message: refused }, { status: 403 });
    }
    const headers = new Headers(req.headers);
    for (const name of HOP) headers.delete(name);
    try {
      // An address, not a name: the connection goes to the socket, but fetch would still look a
      // name up, which on an internal network waits for the resolver to time out (10 s).
      // A client that goes away cancels the body, and with it the engine's stream.
      const res = await fetch(`http://127.0.0.1${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        client,
      });
      const out = new Headers(res.headers);
      for (const name of HOP) out.delete(name);
      return new Response(res.body, { status: res.status, headers: out });
    } catch (err) {
      const message = `Cannot reach the Docker engine at ${socket}: ${(err as Error).message}`;
      console.log(JSON.stringify({ error: message }));
      return Response.json({ message }, { status: 502 });
    }
  };
}

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? "2375");
  const socket = Deno.env.get("DOCKER_SOCKET") ?? "/var/run/docker.sock";
  const server = Deno.serve({
    hostname: "0.0.0.0",
    port,
    onListen: () => console.log(JSON.stringify({ listening: port, socket })),
  }, socketProxy(socket));
  const stop = () => void server.shutdown().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
