import assert from "node:assert/strict";
import { loadTestConfig } from "../testing/proxy.ts";
import { testPki } from "../testing/certs.ts";
import { loadX509 } from "../pki/x509.ts";
import { waitFor } from "../testing/servers.ts";
import { ariCertId, backoff, lifetimeRenewal, windowRenewal } from "./ari.ts";
import { AcmeManager } from "./manager.ts";
import { AcmeStorage } from "./storage.ts";

/** A certificate with the given serial (hex, as DER encodes it) and authority key id. */
async function certificateWith(serial: string, keyId: string | null): Promise<string> {
  const x509 = await loadX509();
  const signing = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(signing, false, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: "CN=ari.test",
    keys,
    signingAlgorithm: signing,
    extensions: keyId === null ? [] : [new x509.AuthorityKeyIdentifierExtension(keyId)],
  });
  return cert.toString("pem");
}

Deno.test("ariCertId matches the example of RFC 9773 section 4.1", async () => {
  const keyId = "69885b6b87464041e1b37b847ba0ae2cde01c8d4";
  const pem = await certificateWith("0087654321", keyId);
  assert.equal(await ariCertId(pem), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  assert.equal(
    await ariCertId(await certificateWith("7f01", keyId)),
    "aYhba4dGQEHhs3uEe6CuLN4ByNQ.fwE",
  );
  assert.equal(
    await ariCertId(await certificateWith("01", null)),
    null,
    "no authority key id, no ARI",
  );
});

Deno.test("renewal times: share of the lifetime, a point in the window, bounded backoff", () => {
  const start = new Date("2026-01-01T00:00:00Z");
  const end = new Date("2026-01-31T00:00:00Z");
  assert.equal(lifetimeRenewal(start, end, 2 / 3).toISOString(), "2026-01-21T00:00:00.000Z");
  assert.equal(windowRenewal(start, end, 0).getTime(), start.getTime());
  assert.equal(windowRenewal(start, end, 0.5).toISOString(), "2026-01-16T00:00:00.000Z");
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => backoff(n, 60, 600)), [
    60,
    120,
    240,
    480,
    600,
    600,
  ]);
});

/**
 * A loopback CA with what Pebble 2.4 lacks: renewal information. It refuses orders, recording
 * their payloads, so a test sees whether and how a renewal was asked for.
 */
async function ariServer(window: { start: Date; end: Date }) {
  const pki = await testPki();
  const { certPem, keyPem } = await pki.leaf("127.0.0.1");
  const seen: { path: string; payload: Record<string, unknown> | null }[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certPem,
    key: keyPem,
    onListen() {},
  }, async (req) => {
    const { pathname, origin: base } = new URL(req.url);
    const headers = { "replay-nonce": crypto.randomUUID() };
    const body = req.method === "POST" ? await req.json() : null;
    const payload = body?.payload
      ? JSON.parse(
        new TextDecoder().decode(Uint8Array.fromBase64(body.payload, { alphabet: "base64url" })),
      )
      : null;
    seen.push({ path: pathname, payload });
    switch (pathname) {
      case "/dir":
        return Response.json({
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
          renewalInfo: `${base}/renewal-info/`,
        });
      case "/nonce":
        return new Response(null, { headers });
      case "/account":
        return Response.json({ status: "valid", contact: payload?.contact }, {
          status: 201,
          headers: { ...headers, location: `${base}/account/1` },
        });
      case "/order":
        return Response.json({
          type: "urn:ietf:params:acme:error:rejectedIdentifier",
          detail: "refused for the test",
        }, { status: 403, headers });
      default:
        if (pathname.startsWith("/renewal-info/")) {
          return Response.json({
            suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() },
          }, { headers: { "retry-after": "3600" } });
        }
        return new Response("not found", { status: 404 });
    }
  });
  return { server, seen, url: `https://127.0.0.1:${server.addr.port}/dir` };
}

async function managerWithStoredCertificate(directory: string) {
  const { config, dir } = await loadTestConfig(`
entrypoints:
  websecure: { address: "127.0.0.1:0", tls: { acme: true } }
routes: [{ match: { host: a.test }, service: welcome@internal }]
acme: { directory: "${directory}", agree_tos: true, ca_file: ca.crt, storage: acme, retry_initial: 1h }
`);
  const { certPem, keyPem } = await (await testPki()).leaf("a.test");
  await new AcmeStorage(config.acme.storage, directory).save("a.test", certPem, keyPem);
  const manager = new AcmeManager({ onCertificates() {} });
  await manager.configure(config);
  manager.start();
  return { manager, dir, certId: (await ariCertId(certPem))! };
}

Deno.test("ARI: a renewal window in the future schedules the renewal inside it", async () => {
  const start = new Date(Date.now() + 3_600_000);
  const end = new Date(Date.now() + 7_200_000);
  const ca = await ariServer({ start, end });
  const { manager, dir, certId } = await managerWithStoredCertificate(ca.url);
  try {
    await waitFor(() => manager.status()[0].renewAt !== null, "the renewal check");
    const [status] = manager.status();
    const renewAt = Date.parse(status.renewAt!);
    assert.ok(renewAt >= start.getTime() && renewAt <= end.getTime(), status.renewAt!);
    assert.ok(ca.seen.some((s) => s.path === `/renewal-info/${certId}`));
    assert.ok(!ca.seen.some((s) => s.path === "/order"), "no order before the window");
    assert.ok(
      Date.parse(status.nextAttempt!) <= Date.now() + 3_600_000,
      "asks again per Retry-After",
    );
  } finally {
    await manager.stop();
    await ca.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ARI: a window that has passed renews now, naming the replaced certificate", async () => {
  const ca = await ariServer({
    start: new Date(Date.now() - 120_000),
    end: new Date(Date.now() - 60_000),
  });
  const { manager, dir, certId } = await managerWithStoredCertificate(ca.url);
  try {
    await waitFor(() => manager.status()[0].failures === 1, "the refused order");
    const orders = ca.seen.filter((s) => s.path === "/order").map((s) => s.payload);
    const identifiers = [{ type: "dns", value: "a.test" }];
    assert.deepEqual(orders, [{ identifiers, replaces: certId }, { identifiers }]);
    const [status] = manager.status();
    assert.match(status.lastError!.message, /rejectedIdentifier: refused for the test/);
    assert.ok(status.certificate !== null, "the stored certificate stays");
  } finally {
    await manager.stop();
    await ca.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
