/**
 * The only place Gatehouse touches Deno's internal, unstable APIs (pinned to Deno 2.9.6 in
 * deno.json). `deno_internals_test.ts` fails loudly when an upgrade removes or changes them.
 *
 * - The hidden `Symbol.for("unstableSniResolver")` option of `Deno.listenTls`: a certificate per
 *   SNI name, resolved once per name per listener (Deno caches the answer, failures included).
 *   Deno's source marks it temporary; newer releases replace it with `resolveCertificate`.
 * - `Deno[Deno.internal].serveHttpOnConnection`: hyper's HTTP server (the one behind Deno.serve)
 *   on a single accepted connection, used for connections that negotiated h2 by ALPN. It takes
 *   no compression option: it compresses responses by itself whenever the environment variable
 *   DENO_SERVE_AUTOMATIC_COMPRESSION is set (to anything but "0" or "false"), read at each call.
 *   Gatehouse's compression stage must be the only one, so `disableAutomaticCompression`
 *   removes the variable from the process before any h2 connection is served.
 */

/** A certificate chain and key in PEM, as Deno.listenTls takes them. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * Answers a server name ("" when the client sent no SNI), at once or later, or throws to abort
 * the handshake.
 */
export type SniResolver = (serverName: string) => KeyPair | Promise<KeyPair>;

interface DenoInternals {
  resolverSymbol: symbol;
  serveHttpOnConnection: (
    conn: Deno.Conn,
    signal: AbortSignal,
    handler: (req: Request) => Response | Promise<Response>,
    onError: (err: unknown) => Response | Promise<Response>,
    onListen: () => void,
  ) => { finished: Promise<void>; shutdown(): Promise<void> };
}

function internals(): DenoInternals {
  const key = (Deno as unknown as { internal: symbol }).internal;
  const found = (Deno as unknown as Record<symbol, Partial<DenoInternals>>)[key];
  if (typeof found?.resolverSymbol !== "symbol") {
    throw new Error(
      `Cannot find Deno's SNI resolver option: Deno ${Deno.version.deno} removed it; ` +
        `run Gatehouse on the Deno version pinned in deno.json`,
    );
  }
  if (typeof found.serveHttpOnConnection !== "function") {
    throw new Error(
      `Cannot find Deno's serveHttpOnConnection: Deno ${Deno.version.deno} removed it; ` +
        `run Gatehouse on the Deno version pinned in deno.json`,
    );
  }
  return found as DenoInternals;
}

const AUTO_COMPRESSION_ENV = "DENO_SERVE_AUTOMATIC_COMPRESSION";
let automaticCompressionOff = false;

/**
 * Makes sure hyper never compresses a response (see the module doc): removes
 * DENO_SERVE_AUTOMATIC_COMPRESSION from this process. Throws a readable error when the process
 * may not change its environment.
 */
export function disableAutomaticCompression(): void {
  if (automaticCompressionOff) return;
  try {
    Deno.env.delete(AUTO_COMPRESSION_ENV);
  } catch (err) {
    throw new Error(
      `Cannot turn off Deno's own HTTP/2 response compression: removing ` +
        `${AUTO_COMPRESSION_ENV} from the environment failed (${(err as Error).message}); ` +
        `run Gatehouse with --allow-env`,
    );
  }
  automaticCompressionOff = true;
}

/**
 * `Deno.listenTls` with a per-SNI certificate resolver and ALPN. Offering h2 turns Deno's own
 * response compression off (`disableAutomaticCompression`).
 */
export function listenTlsWithSni(options: {
  hostname: string;
  port: number;
  alpnProtocols: string[];
  reusePort: boolean;
  resolve: SniResolver;
}): Deno.TlsListener {
  const { resolverSymbol } = internals();
  if (options.alpnProtocols.includes("h2")) disableAutomaticCompression();
  const opts = {
    hostname: options.hostname,
    port: options.port,
    alpnProtocols: options.alpnProtocols,
    reusePort: options.reusePort,
    [resolverSymbol]: options.resolve,
  };
  return Deno.listenTls(opts as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem);
}

/** One connection served by hyper. */
export interface ServedConnection {
  /** Settles when the connection is done; never rejects. */
  readonly finished: Promise<void>;
  /**
   * Graceful end: GOAWAY on h2, the requests in flight finish, then the connection closes (at
   * once when none is in flight and the client acknowledges). Safe in any state.
   */
  shutdown(): void;
  /**
   * Hard end: the streams in flight are cut and the connection closes now. Returns false, doing
   * nothing, once `shutdown` was called: the graceful close then ends when its streams do.
   */
  abort(): boolean;
}

/** True while `abort` dispatches Deno's abort listener (see `suppressLateAbortError`). */
let aborting = false;
let guardInstalled = false;

/**
 * Deno's abort listener for a served connection cancels it by resource id; once hyper finished
 * the connection on its own (the client left a moment before), the id is gone and the listener
 * throws BadResource. An exception in an event listener is reported as uncaught and would end
 * the process, and no caller can catch it: this drops exactly that error, raised synchronously
 * inside our own `abort` call, and nothing else.
 */
function suppressLateAbortError(): void {
  if (guardInstalled) return;
  guardInstalled = true;
  globalThis.addEventListener("error", (event) => {
    if (aborting && event.error instanceof Deno.errors.BadResource) event.preventDefault();
  });
}

/** Aborts the signal given to Deno's serveHttpOnConnection, even one whose connection ended. */
export function abortQuietly(controller: AbortController): void {
  suppressLateAbortError();
  aborting = true;
  try {
    controller.abort();
  } finally {
    aborting = false;
  }
}

/**
 * Serves HTTP (hyper: h2 or HTTP/1.1) on one accepted connection. Closing the connection itself
 * does nothing once hyper owns it: `shutdown` starts the graceful end, `abort` is for deadlines.
 */
export function serveHttpOnConnection(
  conn: Deno.Conn,
  handler: (req: Request) => Response | Promise<Response>,
  onError: (err: unknown) => Response,
): ServedConnection {
  const { serveHttpOnConnection } = internals();
  try {
    disableAutomaticCompression();
    const abort = new AbortController();
    const served = serveHttpOnConnection(conn, abort.signal, handler, onError, () => {});
    // After shutdown (or the end) Deno has released what the abort signal cancels.
    let cancellable = true;
    const finished = served.finished.catch(() => {}).finally(() => cancellable = false);
    return {
      finished,
      shutdown: () => {
        cancellable = false;
        served.shutdown().catch(() => {});
      },
      abort: () => {
        if (!cancellable) return false;
        cancellable = false;
        abortQuietly(abort);
        return true;
      },
    };
  } catch {
    return { finished: Promise.resolve(), shutdown: () => {}, abort: () => false };
  }
}
