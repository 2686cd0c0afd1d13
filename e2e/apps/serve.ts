/**
 * Shared by the demo apps: serve on 0.0.0.0:$PORT (default 8000) until SIGTERM or SIGINT, then
 * finish in-flight requests and exit 0.
 *
 * @module
 */

/** Serves `handler` until the process is asked to stop. */
export function serveUntilSigterm(handler: Deno.ServeHandler): void {
  const port = Number(Deno.env.get("PORT") ?? "8000");
  const server = Deno.serve({ hostname: "0.0.0.0", port, onListen: () => {} }, handler);
  console.log(`${Deno.env.get("APP_NAME") ?? "app"} listening on :${port}`);
  const stop = () => void server.shutdown().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
