/**
 * Password checks for `basic_auth`, off the event loop: one worker isolate
 * (password_worker.ts), started on the first check and stopped when the middlewares close, takes
 * the checks in order. At most `maxWaiting` (64) checks wait; more are refused (the caller answers
 * 503), so a flood of wrong passwords costs a bounded queue, not unbounded memory or latency for
 * everybody else. Passwords that passed are remembered (a digest of user, password and hash; at
 * most 2 x 512 of them) so a logged-in client's every request does not pay for a check again.
 *
 * Tested by basic_auth_test.ts.
 */
import { createHash } from "node:crypto";
import { log } from "../../telemetry/log.ts";

const logger = log("middlewares");

/** Checks waiting or running at most, by default. */
const MAX_WAITING = 64;
/** Remembered successes per generation (two generations are kept). */
const REMEMBERED = 512;

export class PasswordVerifier {
  #worker: Worker | null = null;
  readonly #waiting = new Map<number, (ok: boolean) => void>();
  #nextId = 1;
  #passed = new Set<string>();
  #older = new Set<string>();
  readonly #maxWaiting: number;

  constructor(maxWaiting = MAX_WAITING) {
    this.#maxWaiting = maxWaiting;
  }

  /**
   * Whether `password` matches `hash` (for `user`): true or false, or null when too many checks
   * are already waiting.
   */
  check(user: string, password: string, hash: string): boolean | Promise<boolean | null> {
    const key = createHash("sha256").update(`${user}\u0000${password}\u0000${hash}`).digest(
      "base64",
    );
    if (this.#passed.has(key) || this.#older.has(key)) return true;
    if (this.#waiting.size >= this.#maxWaiting) return Promise.resolve(null);
    return this.#verify(password, hash).then((ok) => {
      if (ok) this.#remember(key);
      return ok;
    });
  }

  /** Stops the worker; waiting checks fail. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = null;
    for (const resolve of this.#waiting.values()) resolve(false);
    this.#waiting.clear();
  }

  #verify(password: string, hash: string): Promise<boolean> {
    const id = this.#nextId++;
    const done = new Promise<boolean>((resolve) => this.#waiting.set(id, resolve));
    this.#start().postMessage({ id, password, hash });
    return done;
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(new URL("./password_worker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<{ id: number; ok: boolean }>) => {
      const resolve = this.#waiting.get(event.data.id);
      this.#waiting.delete(event.data.id);
      resolve?.(event.data.ok === true);
    };
    worker.onerror = (event) => {
      // A worker that cannot start or crashed: every waiting check fails (401), the next starts
      // a new one.
      event.preventDefault();
      logger.error("Cannot check passwords: the password worker failed: {error}", {
        error: event.message,
      });
      this.close();
    };
    this.#worker = worker;
    return worker;
  }

  #remember(key: string): void {
    this.#passed.add(key);
    if (this.#passed.size < REMEMBERED) return;
    this.#older = this.#passed;
    this.#passed = new Set();
  }
}
