/**
 * Getting one certificate from an ACME CA (RFC 8555 section 7.4): order, prove control of each
 * name with HTTP-01 (the key authorization is served from `tokens` by the request pipeline),
 * finalize with a CSR for a fresh key, download the chain.
 *
 * Tested by: acme_test.ts (orders against Pebble, a real RFC 8555 CA), renewal_test.ts (a failing
 * challenge), ari_test.ts (`replaces`).
 *
 * @module
 */
import { createCsr, exportPkcs8, generateKeyPair } from "../pki/generate.ts";
import { AcmeClient, AcmeError } from "./client.ts";
import { base64url } from "./jws.ts";

/** A certificate chain (leaf first) and its new private key, both PEM. */
export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

/** The HTTP-01 answers being served: token -> key authorization. */
export type Http01Tokens = Map<string, string>;

interface Challenge {
  readonly type: string;
  readonly url: string;
  readonly token: string;
  readonly status: string;
  readonly error?: { readonly detail?: string; readonly type?: string };
}

const done = (statuses: string[]) => (body: Record<string, unknown>) =>
  statuses.includes(String(body.status));

/**
 * Obtains a certificate for `names` (the first one names it in messages). `replaces` is the
 * RFC 9773 id of the certificate this one renews, or null.
 */
export async function obtain(
  client: AcmeClient,
  names: readonly string[],
  tokens: Http01Tokens,
  replaces: string | null,
): Promise<Issued> {
  let order;
  try {
    order = await client.newOrder(names, replaces);
  } catch (err) {
    // A CA may refuse `replaces` (already replaced, unknown): a plain order still renews.
    if (replaces === null || !(err instanceof AcmeError)) throw err;
    order = await client.newOrder(names, null);
  }
  for (const url of order.body.authorizations as string[]) {
    await authorize(client, url, tokens);
  }
  order = await client.poll(order.url, done(["ready", "valid", "invalid"]));
  if (order.body.status === "invalid") {
    throw new AcmeError(`the order became invalid: ${problemText(order.body.error)}`);
  }
  const keys = await generateKeyPair();
  if (order.body.status === "ready") {
    const csr = await createCsr({ dnsNames: [...names], keyPair: keys });
    await client.post(order.body.finalize as string, { csr: base64url(csr.der) });
    order = await client.poll(order.url, done(["valid", "invalid"]));
  }
  if (order.body.status !== "valid" || typeof order.body.certificate !== "string") {
    throw new AcmeError(`finalizing failed: ${problemText(order.body.error)}`);
  }
  const certPem = await client.certificateChain(order.body.certificate);
  return { certPem, keyPem: await exportPkcs8(keys.privateKey) };
}

/** Completes one authorization with HTTP-01 (nothing to do when it is already valid). */
async function authorize(client: AcmeClient, url: string, tokens: Http01Tokens): Promise<void> {
  const authz = await client.post(url, undefined);
  const name = (authz.body.identifier as { value?: string } | undefined)?.value ?? url;
  if (authz.body.status === "valid") return;
  if (authz.body.status !== "pending") {
    throw new AcmeError(`authorization for "${name}" is "${authz.body.status}"`);
  }
  const challenges = authz.body.challenges as Challenge[];
  const challenge = challenges.find((c) => c.type === "http-01");
  if (challenge === undefined) {
    const offered = challenges.map((c) => c.type).join(", ");
    throw new AcmeError(
      `the CA offers no http-01 challenge for "${name}" (offered: ${offered}); ` +
        `Gatehouse answers http-01 only`,
    );
  }
  tokens.set(challenge.token, await client.keyAuthorization(challenge.token));
  try {
    await client.post(challenge.url, {});
    const result = await client.poll(url, (body) => body.status !== "pending");
    if (result.body.status !== "valid") {
      const failed = (result.body.challenges as Challenge[]).find((c) => c.url === challenge.url);
      throw new AcmeError(
        `http-01 challenge for "${name}" failed: ${problemText(failed?.error)}`,
        failed?.error?.type,
      );
    }
  } finally {
    tokens.delete(challenge.token);
  }
}

function problemText(problem: unknown): string {
  const p = problem as { detail?: string; type?: string } | undefined;
  if (p?.detail === undefined) return "the CA gave no reason";
  const type = p.type?.replace("urn:ietf:params:acme:error:", "");
  return type ? `${p.detail} (${type})` : p.detail;
}
