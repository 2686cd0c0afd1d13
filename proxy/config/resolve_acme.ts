/**
 * Resolving the `acme` section: directory words to URLs, the CA bundle read, the storage folder
 * made absolute, and consent checked when an entrypoint uses ACME.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote } from "./errors.ts";
import { caBundle } from "./resolve_tls.ts";
import { ACME_DIRECTORIES } from "./schema_acme.ts";
import type { RawConfig } from "./schema.ts";
import type { AcmeSettings } from "./types.ts";

const LETS_ENCRYPT_TERMS = "https://letsencrypt.org/repository/";

/** Resolves `raw.acme`; errors when an entrypoint has `tls.acme` but the terms are not agreed. */
export async function acmeSettings(ctx: Context, raw: RawConfig): Promise<AcmeSettings> {
  const a = raw.acme;
  const directory = ACME_DIRECTORIES[a.directory] ?? a.directory;
  const users = [...raw.entrypoints].filter(([, e]) => e.tls?.acme).map(([name]) => name);
  if (users.length > 0 && !a.agree_tos) {
    const terms = a.directory in ACME_DIRECTORIES
      ? LETS_ENCRYPT_TERMS
      : `the "termsOfService" link of ${directory}`;
    const written = ctx.written(["acme", "agree_tos"]);
    ctx.error(
      ctx.written(["acme"]) ? ["acme", "agree_tos"] : ["entrypoints", users[0], "tls", "acme"],
      `ACME is used (entrypoint ${quote(users[0])}) but the CA's terms of service are not ` +
        `agreed: read them at ${terms}, then set "acme.agree_tos: true"`,
      written ? "value" : "key",
    );
  }
  if (a.retry_max < a.retry_initial) {
    ctx.error(["acme", "retry_max"], `retry_max must be at least retry_initial`);
  }
  const { caPem, caFile } = await caBundle(ctx, ["acme", "ca_file"], a.ca_file);
  return {
    directory,
    email: a.email ?? null,
    agreeTos: a.agree_tos,
    caPem,
    caFile,
    storage: ctx.absolute(a.storage),
    renewAt: parseInt(a.renew_at) / 100,
    retryInitial: a.retry_initial,
    retryMax: a.retry_max,
    timeout: a.timeout,
  };
}
