/**
 * The one door to `@peculiar/x509`: it needs the `reflect-metadata` polyfill loaded before it
 * (its dependency injection, tsyringe, throws at import time otherwise), so every user imports
 * the library from here. Signing and key export use Web Crypto (`globalThis.crypto`).
 *
 * Tested by: generate_test.ts, ../acme/ari_test.ts.
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };
