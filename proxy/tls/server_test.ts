/**
 * TLS endpoints: bursts of first handshakes on fresh listeners, certificate rotation, and
 * session resumption (checked with openssl s_client, whose verdict is "New" or "Reused").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { CertificateFile } from "../config/types.ts";
import { testPki } from "../testing/certs.ts";
import { CertStore } from "./cert_store.ts";
import { createCa, createLeaf } from "../pki/generate.ts";
import { TlsEndpoint } from "./server.ts";

/**
 * A store with one certificate per name, from the test CA, or with `ownCa` from a CA made for
 * this store alone (so that a client trusting only that CA tells its certificates apart).
 * Without `defaultCertificate` unknown names are refused, which keeps the endpoint on Deno's SNI
 * resolver (the path the resolution gate protects).
 */
async function storeFor(
  names: string[],
  { defaultCertificate = null, ownCa = false }: {
    defaultCertificate?: string | null;
    ownCa?: boolean;
  } = {},
): Promise<{ store: CertStore; caPem: string }> {
  const pki = await testPki();
  const ca = ownCa ? await createCa({ commonName: "Swap Test CA", days: 1 }) : pki.ca;
  const certificates: CertificateFile[] = [];
  for (const name of names) {
    const leaf = ownCa
      ? await createLeaf({ ca, commonName: name, dnsNames: [name], days: 1 })
      : await pki.leaf(name);
    certificates.push({
      name,
      certFile: `${name}.crt`,
      keyFile: `${name}.key`,
      certPem: leaf.certPem,
      keyPem: leaf.keyPem,
      hosts: [name],
      subject: name,
      serial: "1",
      notAfter: new Date(Date.now() + 86_400_000),
    });
  }
  const store = new CertStore({
    certificates,
    acme: false,
    defaultCertificate,
    minVersion: "1.2",
    alpn: ["http/1.1"],
  });
  return { store, caPem: ca.certPem };
}

/** An endpoint that completes every handshake, then closes the connection. */
function endpoint(store: CertStore): TlsEndpoint {
  return TlsEndpoint.open({
    hostname: "127.0.0.1",
    port: 0,
    alpn: ["http/1.1"],
    store,
    onConnection: (conn) => conn.handshake().catch(() => {}).finally(() => conn.close()),
  });
}

/** One handshake with SNI `name`, trusting only `caPem`; rejects when the client refuses it. */
async function handshake(port: number, name: string, caPem: string): Promise<void> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const tls = await Deno.startTls(tcp, { hostname: name, caCerts: [caPem] });
  try {
    await tls.handshake();
  } finally {
    tls.close();
  }
}

/**
 * `count` handshakes with SNI "localhost" at once (Deno.connectTls sends the ClientHello right
 * after connecting, as browsers do); returns how many failed.
 */
async function burst(port: number, count: number, caPem: string): Promise<number> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      const tls = await Deno.connectTls({ hostname: "localhost", port, caCerts: [caPem] });
      try {
        await tls.handshake();
      } finally {
        tls.close();
      }
    }),
  );
  return results.filter((r) => r.status === "rejected").length;
}

/**
 * Without the resolution gate, Deno's resolver fails 40 to 130 of 500 such handshakes in about
 * 4 bursts of 10 (resolution_gate.ts). With it none failed in 10,000 here; a lone straggler when
 * other work starves the CPU is tolerated so that a busy CI machine does not fail the suite.
 */
function assertBurstsHeld(failures: number[]): void {
  assert.ok(failures.every((n) => n <= 2), `failed handshakes per burst: ${failures.join(", ")}`);
}

Deno.test("bursts of first handshakes on fresh listeners all succeed", async () => {
  const { store, caPem } = await storeFor(["localhost"]);
  const failures: number[] = [];
  for (let round = 0; round < 5; round++) {
    const ep = endpoint(store);
    try {
      failures.push(await burst(ep.port, 500, caPem));
    } finally {
      ep.close();
    }
  }
  assertBurstsHeld(failures);
});

Deno.test("a certificate change serves the new certificates, bursts on the fresh listener too", async () => {
  const first = await storeFor(["localhost"]);
  const second = await storeFor(["localhost", "other.test"], { ownCa: true });
  const ep = endpoint(first.store);
  try {
    const failures = [await burst(ep.port, 500, first.caPem)];
    await assert.rejects(handshake(ep.port, "other.test", first.caPem));

    ep.setCertificates(second.store);
    // A burst trusting only the second store's CA: every handshake fails if the old
    // certificate is still served.
    failures.push(await burst(ep.port, 500, second.caPem));
    await handshake(ep.port, "other.test", second.caPem);
    await assert.rejects(handshake(ep.port, "localhost", first.caPem), /UnknownIssuer/);

    ep.setCertificates(first.store);
    failures.push(await burst(ep.port, 500, first.caPem));
    await assert.rejects(handshake(ep.port, "localhost", second.caPem), /UnknownIssuer/);
    assertBurstsHeld(failures);
  } finally {
    ep.close();
  }
});

/**
 * Connects twice with openssl s_client at `version`, the second time offering the session of
 * the first (a TLS 1.2 session ID or a TLS 1.3 ticket): true when the server resumed it.
 */
async function resumes(port: number, version: "tls1_2" | "tls1_3"): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-resume-test-" });
  const session = join(dir, "session.pem");
  // -ign_eof: read until the server closes, so a TLS 1.3 ticket is in before the file is written.
  const handshake = async (sessionArg: string) => {
    const { stdout } = await new Deno.Command("openssl", {
      args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"]
        .concat([`-${version}`, "-ign_eof", sessionArg, session]),
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const verdict = /^(New|Reused), TLSv1\.[23]/m.exec(new TextDecoder().decode(stdout));
    if (verdict === null) throw new Error(`Cannot read openssl's session verdict (port ${port})`);
    return verdict[1];
  };
  try {
    assert.equal(await handshake("-sess_out"), "New");
    return await handshake("-sess_in") === "Reused";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("one certificate for every name: TLS 1.2 sessions and TLS 1.3 tickets resume", async () => {
  const { store } = await storeFor(["localhost"], { defaultCertificate: "localhost" });
  assert.notEqual(store.sole, null);
  const ep = endpoint(store);
  try {
    assert.ok(await resumes(ep.port, "tls1_2"), "a TLS 1.2 session ID did not resume");
    assert.ok(await resumes(ep.port, "tls1_3"), "a TLS 1.3 ticket did not resume");
  } finally {
    ep.close();
  }
});

Deno.test("certificates chosen by name: Deno's SNI resolver resumes no session (docs/tls.md)", async () => {
  const { store } = await storeFor(["localhost", "other.test"], {
    defaultCertificate: "localhost",
  });
  assert.equal(store.sole, null);
  const ep = endpoint(store);
  try {
    for (const version of ["tls1_2", "tls1_3"] as const) {
      assert.equal(
        await resumes(ep.port, version),
        false,
        `Deno's SNI resolver listener now resumes ${version} sessions: docs/tls.md says it ` +
          `cannot; update it (and the endpoint may no longer need a static listener)`,
      );
    }
  } finally {
    ep.close();
  }
});
