/**
 * Active health checks: every interval, each server of a service is probed through its transport
 * (a request on a connection of its own, or only a connect for TCP services and checks without a
 * path); consecutive failures mark it down, consecutive successes bring it back.
 */
import type { ActiveHealthCheck } from "../config/types.ts";
import type { UpstreamServer } from "./server_state.ts";
import type { ProbeResult } from "./transport.ts";
import { failedForWantOfFiles, outOfFiles } from "../internal/open_files.ts";

const OUT_OF_FILES: ProbeResult = {
  ok: false,
  detail: "not checked: Gatehouse's open-file limit is reached",
  local: true,
};

/** Probes one server once; rejects (or resolves not ok) when it is unhealthy. */
export type Prober = (server: UpstreamServer, signal: AbortSignal) => Promise<ProbeResult>;

export class HealthChecker {
  readonly #check: ActiveHealthCheck;
  readonly #servers: readonly UpstreamServer[];
  readonly #probe: Prober;
  readonly #onTransition: (server: UpstreamServer, result: ProbeResult) => void;
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #streak = new Map<UpstreamServer, number>();
  #stopped = false;

  constructor(
    check: ActiveHealthCheck,
    servers: readonly UpstreamServer[],
    probe: Prober,
    onTransition: (server: UpstreamServer, result: ProbeResult) => void,
  ) {
    this.#check = check;
    this.#servers = servers;
    this.#probe = probe;
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
    const result = await this.probeOnce(server);
    if (this.#stopped || result.local) return;
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

  /**
   * One probe within the check's timeout; a failure of any kind is a result, never a throw. Out
   * of file descriptors before or after it, a probe says nothing of the server: `local`.
   */
  async probeOnce(server: UpstreamServer): Promise<ProbeResult> {
    if (outOfFiles()) return OUT_OF_FILES;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("timed out")), this.#check.timeout);
    try {
      return await this.#probe(server, abort.signal);
    } catch (err) {
      if (failedForWantOfFiles(err)) return OUT_OF_FILES;
      return { ok: false, detail: abort.signal.aborted ? "timed out" : (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
