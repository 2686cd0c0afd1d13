/**
 * The only place Gatehouse touches Deno's internal, unstable APIs (pinned to Deno 2.9.6 in
 * deno.json). `deno_internals_test.ts` fails loudly when an upgrade removes or changes them.
 *
 * - The hidden `Symbol.for("unstableSniResolver")` option of `Deno.listenTls`: a certificate per
 *   SNI name, resolved once per name per listener (Deno caches the answer, failures included).
 *   Deno's source marks it temporary; newer releases replace it with `resolveCertificate`.
 *
 * HTTP/2 needs nothing internal: Gatehouse serves it with its own engine (proxy/proto/h2/).
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
  return found as DenoInternals;
}

/** `Deno.listenTls` with a per-SNI certificate resolver and ALPN. */
export function listenTlsWithSni(options: {
  hostname: string;
  port: number;
  alpnProtocols: string[];
  reusePort: boolean;
  resolve: SniResolver;
}): Deno.TlsListener {
  const { resolverSymbol } = internals();
  const opts = {
    hostname: options.hostname,
    port: options.port,
    alpnProtocols: options.alpnProtocols,
    reusePort: options.reusePort,
    [resolverSymbol]: options.resolve,
  };
  return Deno.listenTls(opts as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem);
}
