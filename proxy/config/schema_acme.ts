/**
 * The `acme` keys: which CA, the account's contact and consent, where state is kept, when to
 * renew and how to retry. Entrypoints opt in with `tls.acme: true`.
 *
 * Tested by resolve_acme_test.ts.
 *
 * @module
 */
import { def, obj, opt } from "./dsl.ts";
import { bool, dur, str, text } from "./values.ts";

/** Let's Encrypt's directories, by the words the config accepts. */
export const ACME_DIRECTORIES: Readonly<Record<string, string>> = {
  production: "https://acme-v02.api.letsencrypt.org/directory",
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
};

const directory = text({
  expected: `"production", "staging" or an https:// directory URL`,
  type: "`production` | `staging` | URL",
  pattern: /^(?:production|staging|https:\/\/[^\s/?#]+[^\s#]*)$/,
});

const email = text({
  expected: `an email address like "admin@example.com"`,
  type: "email",
  pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
});

const percent = text({
  expected: `a percentage from 10% to 95%, like "67%"`,
  type: "percentage",
  pattern: /^(?:[1-8][0-9]|9[0-5])%$/,
});

/** The `tls.acme` key of an entrypoint. */
export const entrypointAcme = def(
  bool(),
  false,
  "Get certificates for this entrypoint's route hosts from the ACME CA (see acme)",
);

/** The top-level `acme` section. */
export const acmeSection = obj({
  directory: def(
    directory,
    "production",
    `ACME directory: "production" or "staging" (Let's Encrypt), or any RFC 8555 CA's URL`,
  ),
  email: opt(email, "Contact address the CA may write to about the account", "none"),
  agree_tos: def(
    bool(),
    false,
    "Agree to the CA's terms of service; must be true for ACME to be used",
  ),
  ca_file: opt(
    str("a file path"),
    "Extra trusted CA certificates (PEM) for a private ACME server, relative to this file",
    "system roots",
  ),
  storage: def(
    str("a file path"),
    "../certs/acme",
    "Folder for the account key and certificates, relative to this file",
  ),
  renew_at: def(
    percent,
    "67%",
    "Renew once this share of the lifetime has passed (unless the CA suggests a window)",
  ),
  retry_initial: def(dur(), "1m", "Wait after a failed attempt, doubled after each failure"),
  retry_max: def(dur(), "1h", "Longest wait between failed attempts"),
  timeout: def(dur(), "30s", "Limit for each request to the ACME server"),
});
