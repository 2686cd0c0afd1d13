/**
 * New TLS connections per second: `--concurrency` loops each open a TLS connection (full
 * handshake: every connection starts without a session cache, so nothing is resumed), send one
 * `GET` with `Connection: close`, read the response to EOF and start over.
 *
 * `deno run --allow-net --allow-read bench/clients/tls_handshakes.ts --port P --ca CA.pem
 *  --concurrency 50 --seconds 5 --warmup 1`
 *
 * @module
 */
import { closeQuietly, connectTls, measurePhases, options, readToEnd, writeAll } from "./common.ts";

const opt = options({
  port: undefined,
  ca: undefined,
  path: "/",
  concurrency: "50",
  seconds: "5",
  warmup: "1",
});
const caCerts = [await Deno.readTextFile(opt.ca)];
const request = new TextEncoder().encode(
  `GET ${opt.path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
);
const buffers: Uint8Array[] = [];

async function connectOnce(worker: number): Promise<void> {
  const buf = buffers[worker] ??= new Uint8Array(64 * 1024);
  const conn = await connectTls(Number(opt.port), caCerts);
  try {
    await writeAll(conn, request);
    const [, head] = await readToEnd(conn, buf);
    if (!head.startsWith("HTTP/1.1 200")) throw new Error(`Got "${head.split("\r\n")[0]}"`);
  } finally {
    closeQuietly(conn);
  }
}

await measurePhases(
  Number(opt.concurrency),
  Number(opt.warmup),
  Number(opt.seconds),
  connectOnce,
);
