/**
 * The one door to `@peculiar/x509`, loaded on first use. Two reasons: it needs the
 * `reflect-metadata` polyfill loaded before it (its dependency injection, tsyringe, throws at
 * import time otherwise), and loading it costs about 250 ms of CPU, which a start-up that
 * generates no certificate should not pay (docs/libraries.md). Signing and key export use Web
 * Crypto (`globalThis.crypto`).
 *
 * Tested by: generate_test.ts, ../acme/ari_test.ts.
 *
 * @module
 */
import type * as X509 from "@peculiar/x509";

/** The library's namespace, as `import * as x509 from "@peculiar/x509"` gives it. */
export type X509Library = typeof X509;

let loading: Promise<X509Library> | null = null;

/** The library, imported (polyfill first) the first time it is asked for. */
export function loadX509(): Promise<X509Library> {
  loading ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(crypto);
    return x509;
  })();
  return loading;
}
