/**
 * Resolving TLS settings: reading certificate, key and CA files, and checking they fit.
 *
 * @module
 */
import { basename, extname } from "node:path";
import {
  type CertificateInfo,
  keyMatchesCertificate,
  parseCertificatePem,
} from "../pki/certificate.ts";
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import type { RawEntrypoint, RawService } from "./schema.ts";
import type { CertificateFile, EntrypointTls, UpstreamTls } from "./types.ts";

type RawTls = NonNullable<RawEntrypoint["tls"]>;
type RawCertificate = NonNullable<RawTls["certificates"]>[number];

/** "no PEM block found" from "Cannot parse certificate: no PEM block found". */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Cannot [^:]+: /, "");
}

function certificateName(raw: RawCertificate): string {
  return raw.name ?? basename(raw.cert, extname(raw.cert));
}

async function certificate(
  ctx: Context,
  raw: RawCertificate,
  name: string,
): Promise<CertificateFile | undefined> {
  const path = ctx.path(raw);
  const certFile = ctx.absolute(raw.cert);
  const keyFile = ctx.absolute(raw.key);
  const certPem = await ctx.read([...path, "cert"], raw.cert, "certificate file");
  const keyPem = await ctx.read([...path, "key"], raw.key, "key file");
  if (certPem === undefined) return undefined;
  let info: CertificateInfo;
  try {
    info = parseCertificatePem(certPem);
  } catch (error) {
    ctx.error(
      [...path, "cert"],
      `Cannot parse certificate file ${quote(certFile)}: ${reason(error)}`,
    );
    return undefined;
  }
  const hosts = raw.hosts ?? info.dnsNames.map((host) => host.toLowerCase());
  if (hosts.length === 0) {
    const fix = `list the host names it serves in "hosts"`;
    ctx.error(path, `certificate file ${quote(certFile)} has no DNS names: ${fix}`);
    return undefined;
  }
  if (keyPem === undefined) return undefined;
  try {
    if (!keyMatchesCertificate(certPem, keyPem)) {
      ctx.error(
        [...path, "key"],
        `key file ${quote(keyFile)} does not match certificate file ${quote(certFile)}`,
      );
      return undefined;
    }
  } catch (error) {
    ctx.error([...path, "key"], `Cannot parse key file ${quote(keyFile)}: ${reason(error)}`);
    return undefined;
  }
  const { subject, serial, notAfter } = info;
  return { name, certFile, keyFile, certPem, keyPem, hosts, subject, serial, notAfter };
}

/**
 * Reads an entrypoint's certificates and resolves its default certificate. A tcp entrypoint
 * offers no ALPN.
 */
export async function entrypointTls(
  ctx: Context,
  raw: RawTls,
  protocol: "http" | "tcp",
): Promise<EntrypointTls> {
  const names = new Map<string, RawCertificate>();
  const certificates: CertificateFile[] = [];
  if (raw.certificates === undefined && !raw.acme) {
    ctx.error(
      ctx.path(raw),
      `"tls" needs "certificates", or "acme: true" to get them from the ACME CA`,
      "key",
    );
  }
  if (raw.acme && protocol === "tcp") {
    ctx.error(
      ctx.path(raw, "acme"),
      `"acme" works on http entrypoints only: ACME reads the host names of HTTP routes`,
    );
  }
  for (const cert of raw.certificates ?? []) {
    const name = certificateName(cert);
    const other = names.get(name);
    if (other) {
      const where = ctx.written(ctx.path(cert, "name")) ? ctx.path(cert, "name") : ctx.path(cert);
      const also = ctx.path(other).at(-1);
      ctx.error(
        where,
        `duplicate certificate name ${
          quote(name)
        } (also certificates[${also}]); set "name" to tell them apart`,
      );
    } else names.set(name, cert);
    const resolved = await certificate(ctx, cert, name);
    if (resolved) certificates.push(resolved);
  }
  const chosen = raw.default_certificate ?? [...names.keys()][0];
  if (chosen !== "reject" && chosen !== undefined && !names.has(chosen)) {
    const known = [...names.keys()].join(", ");
    ctx.error(
      ctx.path(raw, "default_certificate"),
      `unknown certificate ${quote(chosen)} (known: ${known}; or "reject")`,
    );
  }
  return {
    certificates,
    acme: raw.acme,
    defaultCertificate: chosen === "reject" || chosen === undefined ? null : chosen,
    minVersion: raw.min_version,
    alpn: protocol === "tcp" ? [] : raw.alpn,
  };
}

/** Reads a service's CA file and checks `tls` is only given to services with https servers. */
export async function upstreamTls(
  ctx: Context,
  raw: RawService,
  hasHttps: boolean,
): Promise<UpstreamTls> {
  const tls = raw.tls;
  const path = ctx.path(raw, "tls");
  if (ctx.written(path) && !hasHttps) {
    ctx.error(path, `"tls" is set but no server of this service uses https`, "key");
  }
  const { caPem, caFile } = await caBundle(ctx, [...path, "ca_file"], tls.ca_file);
  return {
    caPem,
    caFile,
    serverName: tls.server_name ?? null,
    insecureSkipVerify: tls.insecure_skip_verify,
  };
}

/** Reads the CA certificates (PEM) named at `path`; both null when `file` is undefined. */
export async function caBundle(
  ctx: Context,
  path: readonly Segment[],
  file: string | undefined,
): Promise<{ caPem: string | null; caFile: string | null }> {
  if (file === undefined) return { caPem: null, caFile: null };
  const caPem = await ctx.read(path, file, "CA file") ?? null;
  try {
    if (caPem !== null) parseCertificatePem(caPem);
  } catch (error) {
    ctx.error(path, `Cannot parse CA file ${quote(ctx.absolute(file))}: ${reason(error)}`);
  }
  return { caPem, caFile: ctx.absolute(file) };
}
