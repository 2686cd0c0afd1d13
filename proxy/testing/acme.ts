/**
 * Helpers for automatic HTTPS tests against Pebble (pebble.ts): a Gatehouse config using it,
 * TLS clients that check what certificate a handshake gets and that it verifies against
 * Pebble's root, the admin status, and the "acme" log lines.
 *
 * @module
 */
import tls from "node:tls";
import { type CapturedLog, captureLog } from "./logs.ts";
import type { AcmeHostStatus } from "../acme/manager.ts";
import type { TestGatehouse } from "./gatehouse.ts";
import type { Pebble } from "./pebble.ts";
import { readResponse, WireReader, writeAll } from "./wire.ts";

export interface AcmeConfigOptions {
  readonly pebble: Pebble;
  /** Port of the plain entrypoint "web" (Pebble's httpPort). */
  readonly httpPort: number;
  /** Folder for `acme.storage` (kept across Gatehouse restarts). */
  readonly storage: string;
  /** Route hosts served on "websecure". */
  readonly hosts: readonly string[];
  /** URL of the upstream server. */
  readonly upstream: string;
  /** Extra keys of the `acme` section, as YAML flow entries ("renew_at: 50%"). */
  readonly acme?: readonly string[];
}

/**
 * Entrypoints "web" (plain, on `httpPort`, redirecting to HTTPS) and "websecure" (TLS with
 * ACME only), one route for `hosts`, the admin endpoint on a free port.
 */
export function acmeConfig(o: AcmeConfigOptions): string {
  const acme = [
    `directory: "${o.pebble.directoryUrl}"`,
    `email: admin@gatehouse.test`,
    `agree_tos: true`,
    `ca_file: "${o.pebble.caFile}"`,
    `storage: "${o.storage}"`,
    ...(o.acme ?? []),
  ];
  return `
entrypoints:
  web: { address: "127.0.0.1:${o.httpPort}", redirect: { to: websecure } }
  websecure: { address: "127.0.0.1:0", tls: { acme: true } }
routes:
  - { match: { host: [${o.hosts.join(", ")}] }, service: app }
services:
  app: { servers: ["${o.upstream}"] }
acme: { ${acme.join(", ")} }
admin: { address: "127.0.0.1:0" }
`;
}

/** What a handshake with SNI `host` got. */
export interface Served {
  /** The chain verified against `rootPem` for `host`. */
  readonly authorized: boolean;
  readonly error: string | null;
  /** Leaf serial, upper-case hex. */
  readonly serial: string;
  /** "DNS:a.test, ..." */
  readonly altNames: string;
}

/** Handshakes with 127.0.0.1:`port` as `host`, trusting only `rootPem`, and tells what it got. */
export function servedCertificate(port: number, host: string, rootPem: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: host,
      ca: [rootPem],
      rejectUnauthorized: false,
    }, () => {
      const cert = socket.getPeerCertificate();
      const error = socket.authorizationError;
      resolve({
        authorized: socket.authorized,
        error: error ? String(error) : null,
        serial: String(cert.serialNumber).toUpperCase(),
        altNames: cert.subjectaltname ?? "",
      });
      socket.end();
    });
    socket.once("error", reject);
  });
}

/** An HTTPS connection as `host`, verified against `rootPem`, that sends GET requests. */
export interface HttpsConnection extends Disposable {
  /** Sends GET `path` on this connection and returns the status and body. */
  get(path: string): Promise<{ status: number; text: string }>;
  close(): void;
}

/** Connects to 127.0.0.1:`port` with TLS for `host` (Deno's verifier, `rootPem` as the root). */
export async function httpsConnection(
  port: number,
  host: string,
  rootPem: string,
): Promise<HttpsConnection> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.startTls(tcp, { hostname: host, caCerts: [rootPem] });
  const reader = new WireReader(conn);
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  return {
    async get(path) {
      await writeAll(conn, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const res = await readResponse(reader);
      return { status: res.status, text: res.text };
    },
    close,
    [Symbol.dispose]: close,
  };
}

/** The `acme.hosts` of the admin /status document. */
export async function acmeStatus(gh: TestGatehouse): Promise<AcmeHostStatus[]> {
  const res = await fetch(gh.admin("/status"));
  const doc = await res.json();
  return doc.acme?.hosts ?? [];
}

/** The status of `host`, which must be managed. */
export async function hostStatus(gh: TestGatehouse, host: string): Promise<AcmeHostStatus> {
  const found = (await acmeStatus(gh)).find((h) => h.host === host);
  if (found === undefined) throw new Error(`"${host}" is not in the ACME status`);
  return found;
}

/** Collects the "gatehouse.acme" log records until disposed. */
export function captureAcmeLog(): Promise<CapturedLog> {
  return captureLog("acme");
}
