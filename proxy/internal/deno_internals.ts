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

/** Answers a server name ("" when the client sent no SNI) or throws to abort the handshake. */
export type SniResolver = (serverName: string) => KeyPair;

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
  /** Graceful end: GOAWAY on h2, the requests in flight finish, then the connection closes. */
  shutdown(): void;
  /**
   * Hard end: the streams in flight are cut and the connection closes now. False (and nothing
   * happens) once `shutdown` was called: the graceful close then ends when its streams do.
   */
  abort(): boolean;
}

/**
 * Serves HTTP (hyper: h2 or HTTP/1.1) on one accepted connection. Deno's abort signal for it
 * is not graceful (it cuts the streams in flight): `shutdown` starts the graceful end, `abort`
 * is for deadlines. Closing the connection itself does nothing once hyper owns it.
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
    // Once the graceful close began or the connection finished, Deno has released the handle
    // the abort signal cancels: aborting then throws BadResource inside Deno's abort listener,
    // where nothing can catch it.
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
        abort.abort();
        return true;
      },
    };
  } catch {
    return { finished: Promise.resolve(), shutdown: () => {}, abort: () => false };
  }
}
