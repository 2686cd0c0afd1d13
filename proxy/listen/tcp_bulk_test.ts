/**
 * 1 GiB each way at once through a TCP entrypoint, plain and TLS-terminated: both ends compare
 * byte counts and SHA-256. The ends run in a Worker, the proxy in this thread.
 */
import assert from "node:assert/strict";
import type { BulkReport } from "../testing/bulk_worker.ts";
import { testPki } from "../testing/certs.ts";
import { startProxy, type TestProxy, yaml } from "../testing/proxy.ts";

const GIB = 1024 ** 3;

/** Runs one transfer of `size` bytes each way through `port`; returns both ends' reports. */
async function transfer(
  proxyPort: (upstreamPort: number) => Promise<number>,
  size: number,
  tls?: { serverName: string },
): Promise<{ client: BulkReport; upstream: BulkReport }> {
  const worker = new Worker(new URL("../testing/bulk_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const messages: unknown[] = [];
    const waiters: (() => void)[] = [];
    worker.onmessage = (e) => {
      messages.push(e.data);
      waiters.shift()?.();
    };
    const next = async <T>(): Promise<T> => {
      if (messages.length === 0) await new Promise<void>((r) => waiters.push(r));
      return messages.shift() as T;
    };
    worker.postMessage({ op: "listen", size });
    const { port } = await next<{ port: number }>();
    const caPem = (await testPki()).caPem;
    worker.postMessage({
      op: "connect",
      port: await proxyPort(port),
      size,
      tls: tls && { serverName: tls.serverName, caPem },
    });
    const reports = [await next<BulkReport>(), await next<BulkReport>()];
    const client = reports.find((r) => r.side === "client")!;
    const upstream = reports.find((r) => r.side === "upstream")!;
    return { client, upstream };
  } finally {
    worker.terminate();
  }
}

function assertIntact(client: BulkReport, upstream: BulkReport, size: number): void {
  assert.equal(client.error, null);
  assert.equal(upstream.error, null);
  assert.equal(client.sent, size);
  assert.equal(upstream.received, size);
  assert.equal(upstream.receivedSha256, client.sentSha256);
  assert.equal(upstream.sent, size);
  assert.equal(client.received, size);
  assert.equal(client.receivedSha256, upstream.sentSha256);
}

function report(what: string, client: BulkReport, size: number): void {
  const mibs = size / 1024 ** 2 / (client.ms / 1000);
  console.log(`${what}: ${mibs.toFixed(0)} MiB/s each way (${(client.ms / 1000).toFixed(1)} s)`);
}

for (const tls of [false, true]) {
  const what = tls ? "TLS-terminated" : "plain";
  Deno.test(`1 GiB each way through a ${what} TCP entrypoint arrives intact`, async () => {
    const started: { gw?: TestProxy } = {};
    const { client, upstream } = await transfer(
      async (upstreamPort) => {
        const gw = await startProxy(yaml`
        entrypoints:
          bulk:
            address: "127.0.0.1:0"
            protocol: tcp
            ${tls ? "tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }" : ""}
        tcp_routes: [{ entrypoints: [bulk], service: sink }]
        services: { sink: { servers: ["tcp://127.0.0.1:${upstreamPort}"] } }
        log: { access_log: { enabled: false } }
        admin: { address: "off" }
      `);
        started.gw = gw;
        return gw.port("bulk");
      },
      GIB,
      tls ? { serverName: "localhost" } : undefined,
    );
    try {
      assertIntact(client, upstream, GIB);
      report(`${what} TCP`, client, GIB);
    } finally {
      await started.gw?.close();
    }
  });
}
