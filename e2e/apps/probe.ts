/**
 * HEALTHCHECK of the demo app images (they have no shell or curl): $APP_PROBE is an
 * `http://` URL that must answer 200, or `tcp://HOST:PORT` that must accept a connection.
 *
 * @module
 */
const target = new URL(Deno.env.get("APP_PROBE") ?? "http://127.0.0.1:8000/healthz");
try {
  if (target.protocol === "tcp:") {
    const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
    conn.close();
  } else {
    const response = await fetch(target, { signal: AbortSignal.timeout(3000) });
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`status ${response.status}`);
  }
} catch (error) {
  console.error(`Unhealthy: ${target}: ${(error as Error).message}`);
  Deno.exit(1);
}
