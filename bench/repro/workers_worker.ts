/**
 * The worker side of workers.ts (docs/runtime.md, question 3): answers the main isolate's
 * commands, one message each, with one reply each.
 *
 * - `{cmd: "listen", port, tls?, cert?, key?}`: `Deno.listen` (or `Deno.listenTls` with the SNI
 *   resolver symbol) on 127.0.0.1:port with reusePort, accepting and counting connections (each
 *   TLS connection is handshaken, then closed).
 * - `{cmd: "count"}`: connections accepted so far.
 * - `{cmd: "block", ms}`: keeps the JS thread busy for `ms` (so this worker accepts nothing).
 * - `{cmd: "close"}`: closes the listener.
 * - `{cmd: "atomics", sab, n}` / `{cmd: "plain", n}` / `{cmd: "post", n}`: increments a shared
 *   counter with Atomics.add, a local counter, or posts one message per increment; replies with
 *   the ns per increment.
 * - `{cmd: "memory"}`: Deno.memoryUsage() of this isolate.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { listenTlsWithSni } from "../../proxy/internal/deno_internals.ts";

let listener: Deno.Listener | undefined;
let accepted = 0;

async function acceptLoop(l: Deno.Listener, tls: boolean): Promise<void> {
  try {
    for await (const conn of l) {
      accepted++;
      if (tls) {
        (conn as Deno.TlsConn).handshake().catch(() => {}).finally(() => conn.close());
      } else {
        conn.close();
      }
    }
  } catch {
    // closed
  }
}

self.onmessage = (event: MessageEvent) => {
  const msg = event.data;
  try {
    switch (msg.cmd) {
      case "listen": {
        if (msg.tls) {
          listener = listenTlsWithSni({
            hostname: "127.0.0.1",
            port: msg.port,
            alpnProtocols: ["http/1.1"],
            reusePort: true,
            resolve: () => ({ cert: msg.cert, key: msg.key }),
          });
        } else {
          listener = Deno.listen({ hostname: "127.0.0.1", port: msg.port, reusePort: true });
        }
        acceptLoop(listener, msg.tls === true);
        self.postMessage({ ok: true });
        break;
      }
      case "count":
        self.postMessage({ ok: true, accepted });
        break;
      case "block": {
        self.postMessage({ ok: true });
        const until = performance.now() + msg.ms;
        while (performance.now() < until) {
          // busy: this isolate's event loop does not run
        }
        break;
      }
      case "close":
        listener?.close();
        self.postMessage({ ok: true });
        break;
      case "atomics": {
        const counter = new Int32Array(msg.sab);
        const start = performance.now();
        for (let i = 0; i < msg.n; i++) Atomics.add(counter, 0, 1);
        self.postMessage({ ok: true, nsPerOp: (performance.now() - start) * 1e6 / msg.n });
        break;
      }
      case "plain": {
        const counter = new Int32Array(1);
        const start = performance.now();
        for (let i = 0; i < msg.n; i++) counter[0]++;
        self.postMessage({ ok: true, nsPerOp: (performance.now() - start) * 1e6 / msg.n });
        break;
      }
      case "post": {
        const start = performance.now();
        for (let i = 0; i < msg.n; i++) self.postMessage({ inc: 1 });
        self.postMessage({ ok: true, nsPerOp: (performance.now() - start) * 1e6 / msg.n });
        break;
      }
      case "memory":
        self.postMessage({ ok: true, memory: Deno.memoryUsage() });
        break;
      default:
        self.postMessage({ ok: false, error: `unknown command ${msg.cmd}` });
    }
  } catch (err) {
    self.postMessage({ ok: false, error: `${(err as Error).name}: ${(err as Error).message}` });
  }
};
