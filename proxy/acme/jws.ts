/**
 * JSON Web Signatures as ACME wants them (RFC 8555 section 6.2, RFC 7515), made with `jose`:
 * flattened JSON, ES256 over an EC P-256 account key, the key itself (`jwk`) in the first request
 * of an account and its URL (`kid`) afterwards; plus the key's RFC 7638 thumbprint for key
 * authorizations. docs/libraries.md says why this library and what it costs; it is loaded on first
 * use, so that a Gatehouse without ACME does not pay for it at start-up.
 *
 * @module
 */
import type * as Jose from "jose";

/** The public part of an EC P-256 key as a JWK. */
export interface EcJwk {
  readonly crv: "P-256";
  readonly kty: "EC";
  readonly x: string;
  readonly y: string;
}

/** A flattened JWS, the body of every ACME POST. */
export interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

/** What identifies the signer: the account URL once it exists, else the public key. */
export type Signer = { readonly kid: string } | { readonly jwk: EcJwk };

const encoder = new TextEncoder();
let jose: Promise<typeof Jose> | null = null;

function loadJose(): Promise<typeof Jose> {
  jose ??= import("jose");
  return jose;
}

/** base64url without padding (RFC 7515 section 2). */
export function base64url(bytes: Uint8Array | string): string {
  const raw = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  return raw.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The public JWK of an EC P-256 key pair. */
export async function publicJwk(keys: CryptoKeyPair): Promise<EcJwk> {
  const { exportJWK } = await loadJose();
  const { crv, x, y } = await exportJWK(keys.publicKey);
  if (crv !== "P-256" || x === undefined || y === undefined) {
    throw new Error(`Cannot use account key: expected EC P-256, found curve "${crv}"`);
  }
  return { crv, kty: "EC", x, y };
}

/** RFC 7638 thumbprint: base64url SHA-256 of the required members in lexicographic order. */
export async function thumbprint(jwk: EcJwk): Promise<string> {
  const { calculateJwkThumbprint } = await loadJose();
  return await calculateJwkThumbprint(jwk, "sha256");
}

/**
 * Signs `payload` for `url`. `payload` undefined gives the empty payload of a POST-as-GET
 * (RFC 8555 section 6.3); anything else is sent as JSON.
 */
export async function signJws(options: {
  readonly privateKey: CryptoKey;
  readonly signer: Signer;
  readonly nonce: string;
  readonly url: string;
  readonly payload: unknown;
}): Promise<FlattenedJws> {
  const { FlattenedSign } = await loadJose();
  const payload = options.payload === undefined
    ? new Uint8Array(0)
    : encoder.encode(JSON.stringify(options.payload));
  const jws = await new FlattenedSign(payload)
    .setProtectedHeader({ alg: "ES256", nonce: options.nonce, url: options.url, ...options.signer })
    .sign(options.privateKey);
  return { protected: jws.protected!, payload: jws.payload, signature: jws.signature };
}
