/**
 * Test side of shared_state_worker.ts: workers acting on shared state, one request at a time.
 *
 * @module
 */

/** A server reference for tests and benches of the per-server cells: http://app:80. */
export const APP_REF = {
  url: "http://app:80",
  scheme: "http",
  hostname: "app",
  port: 80,
  weight: 1,
  path: null,
} as const;

/** A worker running shared_state_worker.ts. */
export interface StateWorker extends Disposable {
  /** Sends `message` and resolves with the worker's `result`. */
  ask<T>(message: Record<string, unknown>): Promise<T>;
}

export function stateWorker(): StateWorker {
  const worker = new Worker(new URL("./shared_state_worker.ts", import.meta.url), {
    type: "module",
  });
  let queue: Promise<unknown> = Promise.resolve();
  return {
    ask<T>(message: Record<string, unknown>): Promise<T> {
      const next = queue.then(() =>
        new Promise<T>((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data.result);
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
          worker.postMessage(message);
        })
      );
      queue = next.catch(() => {});
      return next;
    },
    [Symbol.dispose]: () => worker.terminate(),
  };
}

/**
 * Runs `ask` on every worker with the same barrier (see shared_state_worker.ts), releases them
 * together once all are ready, and resolves with their results.
 */
export async function together<T>(
  workers: readonly StateWorker[],
  message: Record<string, unknown>,
): Promise<T[]> {
  await Promise.all(workers.map((w) => w.ask({ op: "ping" })));
  const barrier = new SharedArrayBuffer(8);
  const all = Promise.all(workers.map((w) => w.ask<T>({ ...message, barrier })));
  const flags = new Int32Array(barrier);
  const deadline = Date.now() + 10_000;
  while (Atomics.load(flags, 0) < workers.length) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for the workers to be ready");
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  return await all;
}
