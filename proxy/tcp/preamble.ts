/**
 * The first bytes of a client connection, read and looked at before deciding where the
 * connection goes (a PROXY protocol header, a TLS ClientHello). Bytes that are not consumed stay
 * here so that the upstream gets them untouched, before anything else.
 *
 * Tested by listen/tcp_sni_test.ts and listen/tcp_proxy_protocol_test.ts.
 *
 * @module
 */
import type { ByteConn } from "../net/buffered_conn.ts";
import { monotonicNow } from "../clock.ts";

/** What a preamble parser says about the bytes so far. */
export type Decision<T> =
  | ({ readonly status: "ok" } & T)
  | { readonly status: "incomplete" }
  | { readonly status: "invalid"; readonly reason: string };

/**
 * Where reading stopped: the parser decided ("ok", "invalid"), or the bytes never let it
 * ("stopped": the client closed, sent too much, or took too long).
 */
export type Decided<T> =
  | Exclude<Decision<T>, { status: "incomplete" }>
  | { readonly status: "stopped"; readonly reason: string };

export class Preamble {
  readonly conn: ByteConn;
  #buf = new Uint8Array(2048);
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(conn: ByteConn) {
    this.conn = conn;
  }

  /** Received and not consumed. */
  get bytes(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** True once the client ended its side. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Drops the first `n` bytes (a header that was read). */
  consume(n: number): void {
    this.#start = Math.min(this.#start + n, this.#end);
  }

  /**
   * Reads until `parse` decides, the client closes, `maxBytes` are held or `deadline` (epoch ms)
   * passes. After a timeout a read is still pending: the caller must close the connection.
   */
  async readUntil<T>(
    parse: (bytes: Uint8Array) => Decision<T>,
    opts: { readonly deadline: number; readonly maxBytes: number; readonly what: string },
  ): Promise<Decided<T>> {
    while (true) {
      const decision = parse(this.bytes);
      if (decision.status !== "incomplete") return decision as Decided<T>;
      if (this.#end - this.#start >= opts.maxBytes) {
        return { status: "stopped", reason: `no complete ${opts.what} in ${opts.maxBytes} bytes` };
      }
      if (this.#eof) {
        return { status: "stopped", reason: `connection closed before a complete ${opts.what}` };
      }
      const wait = opts.deadline - monotonicNow();
      const more = wait > 0 ? await this.#readOnce(opts.maxBytes, wait) : "timeout";
      if (more === "timeout") {
        return { status: "stopped", reason: `no complete ${opts.what} within the time limit` };
      }
    }
  }

  async #readOnce(maxBytes: number, waitMs: number): Promise<"read" | "timeout"> {
    const held = this.#end - this.#start;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = held;
    }
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(Math.min(this.#buf.length * 2, Math.max(maxBytes, 2048)));
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), waitMs);
    });
    const read = this.conn.read(this.#buf.subarray(this.#end)).then(
      (n) => {
        if (n === null) this.#eof = true;
        else this.#end += n;
        return "read" as const;
      },
      () => {
        this.#eof = true;
        return "read" as const;
      },
    );
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
