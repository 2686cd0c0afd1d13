/**
 * Shared pieces of the bench's Deno load generators: option parsing, timed phases, latency
 * percentiles, socket writes, and the one JSON line each generator prints for the harness.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Marks the line of a load generator's output that the harness parses. */
export const RESULT_MARK = "BENCH_JSON ";

/** Parses `--name value` options; every option is required unless it has a default. */
export function options<K extends string>(
  defaults: Record<K, string | undefined>,
): Record<K, string> {
  const spec = Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: "string" }]));
  // deno-lint-ignore no-explicit-any
  const { values } = parseArgs({ args: Deno.args, options: spec as any });
  const result = {} as Record<K, string>;
  for (const key of Object.keys(defaults) as K[]) {
    const value = (values as Record<string, string | undefined>)[key] ?? defaults[key];
    if (value === undefined) throw new Error(`Cannot start: option --${key} is required`);
    result[key] = value;
  }
  return result;
}

/** Prints the result line the harness reads. */
export function emit(result: Record<string, unknown>): void {
  console.log(RESULT_MARK + JSON.stringify(result));
}

/** Latency samples in milliseconds. */
export class Latencies {
  #samples: number[] = [];

  add(ms: number): void {
    this.#samples.push(ms);
  }

  get count(): number {
    return this.#samples.length;
  }

  /** The p-th percentile (0-100). */
  percentile(p: number): number {
    return percentile(this.#samples, p);
  }
}

/** The p-th percentile (0-100) of `values`, nearest rank; 0 when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Result of running `workers` loops of `operation` for `seconds`. */
export interface PhaseResult {
  operations: number;
  errors: number;
  seconds: number;
  latencies: Latencies;
  firstError?: string;
}

/**
 * Runs `workers` concurrent loops, each calling `operation(worker)` until `seconds` pass, and
 * counts the operations that completed (with their latency) and those that threw.
 */
export async function timedPhase(
  workers: number,
  seconds: number,
  operation: (worker: number) => Promise<void>,
): Promise<PhaseResult> {
  const result: PhaseResult = { operations: 0, errors: 0, seconds, latencies: new Latencies() };
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async (worker: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await operation(worker);
        result.operations++;
        result.latencies.add(performance.now() - t0);
      } catch (error) {
        result.errors++;
        result.firstError ??= (error as Error).message;
        if (result.errors > 1000) throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => loop(i)));
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/**
 * Runs `workers` loops of `operation` for a warm-up of `warmup` seconds (discarded, none when 0),
 * then for `seconds`, and prints the measured phase's result line.
 */
export async function measurePhases(
  workers: number,
  warmup: number,
  seconds: number,
  operation: (worker: number) => Promise<void>,
): Promise<void> {
  if (warmup > 0) await timedPhase(workers, warmup, operation);
  const result = await timedPhase(workers, seconds, operation);
  emit({
    operations: result.operations,
    seconds: result.seconds,
    errors: result.errors,
    first_error: result.firstError,
    p50_ms: result.latencies.percentile(50),
    p99_ms: result.latencies.percentile(99),
  });
}

/**
 * A TLS connection to localhost:`port` with TCP_NODELAY (Deno.connectTls cannot set it, and
 * without it a request written after the handshake waits for a delayed ACK, ~40 ms). Every call
 * starts without a session cache: each handshake is a full one.
 */
export async function connectTls(
  port: number,
  caCerts: string[],
  alpn = "http/1.1",
): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  return await Deno.startTls(tcp, { hostname: "localhost", caCerts, alpnProtocols: [alpn] });
}

/** Writes all of `bytes` (conn.write may write fewer). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Reads until EOF; returns the byte count and the first bytes (for a status line check). */
export async function readToEnd(conn: Deno.Conn, buf: Uint8Array): Promise<[number, string]> {
  let total = 0;
  let head = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return [total, head];
    if (total === 0) head = new TextDecoder().decode(buf.subarray(0, Math.min(n, 64)));
    total += n;
  }
}

/** Closes a connection that may already be closed. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
