/**
 * Keeps a burst of handshakes on a new TLS listener from failing (bug "concurrent first
 * handshakes on a new TLS listener fail", docs/known-limits.md).
 *
 * Deno 2.9's SNI resolver asks us once per name and listener, then caches the answer. Handshakes
 * that reach the resolver while the first answer for their name is pending wait for it; but
 * those that arrive after the answer was sent and before Deno has stored it in its cache (a
 * turn of its task queue) wait for a message that never comes, and fail with "invalid data". In
 * a burst of 500 handshakes on a fresh listener, 4 rounds in 10 lost about 100 each.
 *
 * (Deno's source, ext/tls/tls_key.rs: a lookup during a pending first answer subscribes to it; a
 * lookup after the answer was sent but before one of the waiting tasks stored it in the cache
 * subscribes to a channel whose one message is gone. The window is every task queued ahead of
 * those waiters, so it grows with load.)
 *
 * The gate closes that window from our side. A new listener accepts its first connection alone:
 * the next accept waits until that handshake ends (or RESUME_MS), so the first name, usually
 * the one a burst asks for, is resolved with nothing else in flight and is cached before the
 * burst reaches the resolver. When a name is resolved for the first time later on, the accept
 * loop pauses (new connections wait in the kernel's queue). If other accepted connections are
 * still in their handshake, the answer is held for SETTLE_MS so that they reach the resolver
 * while it is pending; a lone handshake is answered at once. Accepting resumes when a handshake
 * on the listener completes, which proves the cache holds the answer (or after RESUME_MS at the
 * latest).
 *
 * The cost: one handshake's time before a new listener's second accept, and during bursts,
 * SETTLE_MS on the first handshake of a later name, once per listener.
 * Only the first GATED_NAMES names of a listener are gated, so that a client sending made-up
 * names cannot stall the accept loop (unknown names without a certificate are refused at once
 * and never gated).
 */

/**
 * How long a first answer is held. Bursts of 500 handshakes from clients in the same process
 * (which compete for the CPU): 10 ms lost 32 of 5000, 25 ms lost 3 of 5000, 40 ms 0 of 10,000,
 * but 3 in 36 bursts with both cores busy elsewhere; 100 ms lost none of 60 such bursts.
 */
const SETTLE_MS = 100;
/** The latest time accepting resumes after an answer, if no handshake completes before. */
const RESUME_MS = 250;
/** Names per listener whose first resolution is gated. */
const GATED_NAMES = 100;

export class ResolutionGate {
  #paused: PromiseWithResolvers<void> | null = null;
  /** The answer went out; the next completed handshake resumes accepting. */
  #answered = false;
  #gated = 0;
  /** No connection watched yet: the first one is accepted alone. */
  #first = true;
  /** Accepted connections whose handshake has not ended yet (while names are gated). */
  #handshaking = 0;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Null when the accept loop may accept now, else a promise that settles when it may. */
  get paused(): Promise<void> | null {
    return this.#paused?.promise ?? null;
  }

  /**
   * The answer for a name asked for the first time. Accepting pauses; when other handshakes are
   * under way the answer waits SETTLE_MS for them to join it, else it goes out at once.
   */
  answer<T>(value: T): T | Promise<T> {
    if (this.#gated >= GATED_NAMES) return value;
    this.#gated++;
    this.#paused ??= Promise.withResolvers<void>();
    this.#answered = false;
    clearTimeout(this.#resumeTimer);
    if (this.#handshaking <= 1) {
      this.#answer();
      return value;
    }
    return new Promise((resolve) => {
      setTimeout(() => {
        resolve(value);
        this.#answer();
      }, SETTLE_MS);
    });
  }

  /**
   * Watches a newly accepted connection: its completed handshake may resume accepting. The
   * listener's first connection pauses accepting until its handshake ends, either way.
   */
  watch(conn: Deno.TlsConn): void {
    if (this.#gated >= GATED_NAMES) return;
    this.#handshaking++;
    const first = this.#first;
    if (first) {
      this.#first = false;
      this.#paused ??= Promise.withResolvers<void>();
      this.#resumeTimer = setTimeout(() => this.resume(), RESUME_MS);
    }
    conn.handshake().then(() => {
      this.#handshaking--;
      if (first || this.#answered) this.resume();
    }, () => {
      this.#handshaking--;
      if (first) this.resume();
    });
  }

  /** Lets the accept loop go on (also when the listener closes). */
  resume(): void {
    clearTimeout(this.#resumeTimer);
    this.#answered = false;
    const paused = this.#paused;
    this.#paused = null;
    paused?.resolve();
  }

  #answer(): void {
    this.#answered = true;
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = setTimeout(() => this.resume(), RESUME_MS);
  }
}
