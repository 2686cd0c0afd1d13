/**
 * The image's HEALTHCHECK (the image has no shell or curl): GET /healthz on the admin endpoint,
 * exit 0 on 200 and 1 otherwise. The admin address comes from $GATEHOUSE_ADMIN_ADDRESS (default
 * 127.0.0.1:9901); a wildcard host (":9901", "0.0.0.0:9901") is reached on loopback.
 *
 * @module
 */
const address = Deno.env.get("GATEHOUSE_ADMIN_ADDRESS") || "127.0.0.1:9901";
const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address.trim());
if (!match) {
  console.error(`Cannot check health: GATEHOUSE_ADMIN_ADDRESS "${address}" is not HOST:PORT`);
  Deno.exit(1);
}
const host = match[1] ?? match[2];
const wildcard = ["", "0.0.0.0", "::"].includes(host);
const authority = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
const url = `http://${authority}:${match[3]}/healthz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await response.body?.cancel();
  if (response.status !== 200) {
    console.error(`Unhealthy: ${url} answered ${response.status}`);
    Deno.exit(1);
  }
} catch (error) {
  console.error(`Unhealthy: cannot reach ${url}: ${(error as Error).message}`);
  Deno.exit(1);
}
