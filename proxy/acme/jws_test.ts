import assert from "node:assert/strict";
import { generateKeyPair } from "../pki/generate.ts";
import { base64url, publicJwk, signJws, thumbprint } from "./jws.ts";

const decode = (part: string) =>
  JSON.parse(new TextDecoder().decode(Uint8Array.fromBase64(part, { alphabet: "base64url" })));

Deno.test("signJws: ES256 over protected.payload, verifiable with the account's public key", async () => {
  const keys = await generateKeyPair();
  const jwk = await publicJwk(keys);
  const jws = await signJws({
    privateKey: keys.privateKey,
    signer: { jwk },
    nonce: "n1",
    url: "https://ca.test/new-account",
    payload: { termsOfServiceAgreed: true },
  });
  assert.deepEqual(decode(jws.protected), {
    alg: "ES256",
    nonce: "n1",
    url: "https://ca.test/new-account",
    jwk,
  });
  assert.deepEqual(decode(jws.payload), { termsOfServiceAgreed: true });
  const signature = Uint8Array.fromBase64(jws.signature, { alphabet: "base64url" });
  assert.equal(signature.length, 64, "raw r || s, not DER");
  const signed = new TextEncoder().encode(`${jws.protected}.${jws.payload}`);
  const params = { name: "ECDSA", hash: "SHA-256" };
  assert.ok(await crypto.subtle.verify(params, keys.publicKey, signature, signed));

  const asGet = await signJws({
    privateKey: keys.privateKey,
    signer: { kid: "https://ca.test/acct/1" },
    nonce: "n2",
    url: "https://ca.test/order/1",
    payload: undefined,
  });
  assert.equal(asGet.payload, "", "POST-as-GET has an empty payload");
  assert.equal(decode(asGet.protected).kid, "https://ca.test/acct/1");
  assert.equal(decode(asGet.protected).jwk, undefined);
});

Deno.test("thumbprint: SHA-256 of the required members in lexicographic order (RFC 7638)", async () => {
  const jwk = await publicJwk(await generateKeyPair());
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  assert.equal(await thumbprint(jwk), base64url(new Uint8Array(digest)));
  assert.equal(base64url(Uint8Array.of(0xfb, 0xff)), "-_8", "url alphabet, no padding");
});
