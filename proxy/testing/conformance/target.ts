/**
 * What the conformance suites attack: a Gatehouse process (`proxy/main.ts`, spawned) with a
 * plain entrypoint (HTTP/1.1, and h2c when a connection starts with the HTTP/2 preface), an
 * HTTP/2-only plain one (`h2c: only`: on a port shared with HTTP/1.1 an invalid preface is an
 * HTTP/1.1 request answered 400, which h2spec counts as a failure) and a TLS one (ALPN h2 and
 * http/1.1, the test CA's localhost certificate),
 * one route to an upstream in this process that reads each request's body and answers 200 with
 * a body (h2spec needs that for `GET /` and `POST /`).
 *
 * @module
 */
import { accepts, type ProxyProcess, spawnProxy } from "../process.ts";
import { closedPort, httpUpstream, waitFor } from "../servers.ts";

/** The entrypoints the suites connect to, on 127.0.0.1. */
export interface Target extends AsyncDisposable {
  /** HTTP/1.1 and h2c prior knowledge without TLS. */
  readonly plainPort: number;
  /** h2c prior knowledge only (`h2c: only`). */
  readonly h2cPort: number;
  /** TLS with ALPN h2 and http/1.1. */
  readonly tlsPort: number;
  /** What Gatehouse wrote on stderr (its application log), for failure reports. */
  log(): string;
}

/** Starts the upstream and Gatehouse; resolves once both entrypoints accept connections. */
export async function startTarget(): Promise<Target> {
  const upstream = httpUpstream(async (req) => {
    // A client that resets its stream (h2spec does) cuts the body short: answer anyway.
    await req.arrayBuffer().catch(() => {});
    return new Response(`conformance upstream: ${req.method} ${new URL(req.url).pathname}\n`);
  });
  const plainPort = closedPort();
  const h2cPort = closedPort();
  let proxy: ProxyProcess;
  try {
    proxy = await spawnProxy((tlsPort) => `
entrypoints:
  plain:
    address: "127.0.0.1:${plainPort}"
  h2c:
    address: "127.0.0.1:${h2cPort}"
    h2c: only
  tls:
    address: "127.0.0.1:${tlsPort}"
    tls:
      certificates: [{ cert: localhost.crt, key: localhost.key }]
      alpn: [h2, http/1.1]
routes: [{ service: app }]
services:
  app: { servers: ["${upstream.url}"] }
admin: { address: "off" }
`);
    await waitFor(() => accepts(plainPort), "the plain entrypoint to listen", 10_000);
    await waitFor(() => accepts(h2cPort), "the h2c entrypoint to listen", 10_000);
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    plainPort,
    h2cPort,
    tlsPort: proxy.port,
    log: () => proxy.stderr(),
    async [Symbol.asyncDispose]() {
      await proxy.close();
      await upstream.close();
    },
  };
}
