/**
 * Active health checks: every interval, each server of a service gets a GET on its own new
 * connection (TCP services: only the connect); consecutive failures mark it down, consecutive
 * successes bring it back.
 */
import type { ActiveHealthCheck, ServerRef } from "../config/types.ts";
import { BufferedConn, type ByteConn } from "../net/buffered_conn.ts";
import { exchange, type Lease } from "../proto/h1/client.ts";
import { HeaderList } from "../proto/header_list.ts";
import { serverAuthority, type UpstreamServer } from "./server_state.ts";

export type HealthDialer = (server: ServerRef, signal: AbortSignal) => Promise<ByteConn>;

/** Result of one probe, for logs. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

export class HealthChecker {
  readonly #check: ActiveHealthCheck;
  readonly #servers: readonly UpstreamServer[];
  readonly #dial: HealthDialer;
  readonly #onTransition: (server: UpstreamServer, result: ProbeResult) => void;
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #streak = new Map<UpstreamServer, number>();
  #stopped = false;

  constructor(
    check: ActiveHealthCheck,
    servers: readonly UpstreamServer[],
    dial: HealthDialer,
    onTransition: (server: UpstreamServer, result: ProbeResult) => void,
  ) {
    this.#check = check;
    this.#servers = servers;
    this.#dial = dial;
    this.#onTransition = onTransition;
  }

  /** Probes every server now, then every interval. */
  start(): void {
    for (const server of this.#servers) {
      const run = async () => {
        if (this.#stopped) return;
        await this.probeAndRecord(server);
        if (this.#stopped) return;
        const t = setTimeout(run, this.#check.interval);
        Deno.unrefTimer(t);
        this.#timers.push(t);
      };
      run();
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.splice(0)) clearTimeout(t);
  }

  /** One probe, applied to the server's state through the thresholds. */
  async probeAndRecord(server: UpstreamServer): Promise<void> {
    const result = await probe(server.ref, this.#check, this.#dial);
    if (this.#stopped) return;
    // Positive streak counts successes, negative counts failures.
    const prev = this.#streak.get(server) ?? 0;
    const streak = result.ok ? Math.max(prev, 0) + 1 : Math.min(prev, 0) - 1;
    this.#streak.set(server, streak);
    if (!result.ok && server.healthy && -streak >= this.#check.unhealthyThreshold) {
      if (server.setHealthy(false)) this.#onTransition(server, result);
    } else if (result.ok && !server.healthy && streak >= this.#check.healthyThreshold) {
      if (server.setHealthy(true)) this.#onTransition(server, result);
    }
  }
}

/** Sends one health request to `server` on a fresh connection (a TCP check only connects). */
export async function probe(
  server: ServerRef,
  check: ActiveHealthCheck,
  dial: HealthDialer,
): Promise<ProbeResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error("timed out")), check.timeout);
  let conn: ByteConn | null = null;
  try {
    conn = await dial(server, abort.signal);
    if (check.path === null) return { ok: true, detail: "connected" };
    const io = new BufferedConn(conn, 4096);
    const onAbort = () => io.close();
    abort.signal.addEventListener("abort", onAbort, { once: true });
    const lease: Lease = { io, reused: false, setDeadline() {}, release: () => io.close() };
    const headers = new HeaderList();
    headers.appendLower("host", serverAuthority(server));
    headers.appendLower("user-agent", "Gatehouse-HealthCheck");
    headers.appendLower("connection", "close");
    const res = await exchange(lease, { method: "GET", target: check.path, headers, body: null }, {
      responseHeaderMs: 0,
      bodyIdleMs: 0,
      maxHeaderBytes: 64 * 1024,
      signal: abort.signal,
    });
    res.body?.cancel();
    const [lo, hi] = check.expectStatus;
    const ok = res.status >= lo && res.status <= hi;
    return { ok, detail: `status ${res.status}` };
  } catch (err) {
    const reason = abort.signal.aborted ? "timed out" : (err as Error).message;
    return { ok: false, detail: reason };
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }
}
