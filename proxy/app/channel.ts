/**
 * Calls between the main isolate and a worker isolate over postMessage: `call(op, arg)` resolves
 * with the other side's answer (or rejects with its error message), `notify(op, arg)` expects
 * none. Each side registers one handler per op with `on`. Used by workers.ts (main side) and
 * worker.ts (worker side).
 *
 * Tested by workers_test.ts, through a whole multi-worker Gatehouse.
 */

/** What a handler returns: the answer, or a promise of it. */
type Handler = (arg: unknown) => unknown;

interface Port {
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

type Message =
  | { kind: "call"; id: number; op: string; arg: unknown }
  | { kind: "notify"; op: string; arg: unknown }
  | { kind: "answer"; id: number; ok: true; value: unknown }
  | { kind: "answer"; id: number; ok: false; error: string };

export class Channel {
  readonly #port: Port;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #next = 1;
  #closed: string | null = null;

  constructor(port: Port) {
    this.#port = port;
  }

  /** Answers `op` with `handler`'s result (a thrown error's message goes back to the caller). */
  on<A, R>(op: string, handler: (arg: A) => R | Promise<R>): void {
    this.#handlers.set(op, handler as Handler);
  }

  /** Asks the other side; resolves with its answer. */
  call<R>(op: string, arg?: unknown, transfer?: Transferable[]): Promise<R> {
    if (this.#closed !== null) return Promise.reject(new Error(this.#closed));
    const id = this.#next++;
    const waiting = Promise.withResolvers<unknown>();
    this.#pending.set(id, waiting);
    this.#port.postMessage({ kind: "call", id, op, arg } satisfies Message, transfer);
    return waiting.promise as Promise<R>;
  }

  /** Tells the other side; no answer. */
  notify(op: string, arg?: unknown, transfer?: Transferable[]): void {
    if (this.#closed !== null) return;
    this.#port.postMessage({ kind: "notify", op, arg } satisfies Message, transfer);
  }

  /** Feeds a message that arrived (from `onmessage`). */
  receive(data: unknown): void {
    const msg = data as Message;
    if (msg.kind === "answer") {
      const waiting = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.ok) waiting?.resolve(msg.value);
      else waiting?.reject(new Error(msg.error));
      return;
    }
    const handler = this.#handlers.get(msg.op);
    if (msg.kind === "notify") {
      void handler?.(msg.arg);
      return;
    }
    const id = msg.id;
    const answer = (m: Message) => {
      if (this.#closed === null) this.#port.postMessage(m);
    };
    new Promise((resolve) => {
      if (handler === undefined) throw new Error(`Cannot answer "${msg.op}": no such call`);
      resolve(handler(msg.arg));
    }).then(
      (value) => answer({ kind: "answer", id, ok: true, value }),
      (err) => answer({ kind: "answer", id, ok: false, error: (err as Error).message ?? `${err}` }),
    );
  }

  /** The other side is gone: pending and later calls reject with `reason`. */
  close(reason: string): void {
    this.#closed = reason;
    for (const waiting of this.#pending.values()) waiting.reject(new Error(reason));
    this.#pending.clear();
  }
}
