/**
 * Automatic HTTPS against Pebble: issuance through HTTP-01 answered before the redirect, the
 * certificate served and verified against Pebble's root, stored with private modes, and reused
 * after a restart without a new order.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startGatehouse, type TestGatehouse } from "../testing/gatehouse.ts";
import { startPebble } from "../testing/pebble.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { acmeConfig, acmeStatus, httpsConnection, servedCertificate } from "../testing/acme.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { AcmeClient } from "./client.ts";
import { AcmeStorage } from "./storage.ts";

const HOSTS = ["a.test", "b.test"];

async function allIssued(gh: TestGatehouse): Promise<boolean> {
  const hosts = await acmeStatus(gh);
  return hosts.length === HOSTS.length && hosts.every((h) => h.certificate !== null);
}

async function metrics(gh: TestGatehouse) {
  return await parseExposition(await (await fetch(gh.admin("/metrics"))).text());
}

/** Orders the CA holds for the account stored in `storage` (asked over ACME). */
async function ordersAtCa(storage: string, directoryUrl: string, caPem: string): Promise<number> {
  const abort = new AbortController();
  const client = new AcmeClient({
    directoryUrl,
    accountKey: await new AcmeStorage(storage, directoryUrl).accountKey(),
    caPem,
    timeoutMs: 10_000,
    signal: abort.signal,
  });
  try {
    const account = await client.account(["mailto:admin@gatehouse.test"]);
    const { body } = await client.post(account, undefined);
    const list = await client.post(body.orders as string, undefined);
    return (list.body.orders as string[]).length;
  } finally {
    client.close();
  }
}

// With worker isolates, HTTP-01 answers come from the main isolate and certificates go to every worker.
for (const workers of [1, 2]) {
  Deno.test(`ACME: two hosts issued through HTTP-01, served, verified, stored, reused after a restart (workers: ${workers})`, async () => {
    const httpPort = closedPort();
    await using pebble = await startPebble({ httpPort });
    await using upstream = httpUpstream(() => new Response("from upstream"));
    const storage = await Deno.makeTempDir({ prefix: "gatehouse-acme-" });
    const yaml = acmeConfig({ pebble, httpPort, storage, hosts: HOSTS, upstream: upstream.url });
    const root = await pebble.root();
    try {
      let serials: string[];
      {
        await using gh = await startGatehouse(yaml, false, workers);
        // "web" redirects everything to HTTPS: validation passing shows HTTP-01 is answered first.
        await waitFor(() => allIssued(gh), "both certificates", 30_000);
        const status = await acmeStatus(gh);
        serials = status.map((h) => h.certificate!.serial);
        for (const [i, host] of HOSTS.entries()) {
          const served = await servedCertificate(gh.port("websecure"), host, root);
          assert.equal(served.error, null, host);
          assert.ok(served.authorized, host);
          assert.equal(served.serial, serials[i], host);
          assert.equal(served.altNames, `DNS:${host}`);
          using conn = await httpsConnection(gh.port("websecure"), host, root);
          assert.deepEqual(await conn.get("/"), { status: 200, text: "from upstream" });
        }
        const unknown = await fetch(
          `http://127.0.0.1:${httpPort}/.well-known/acme-challenge/nope`,
          {
            redirect: "manual",
          },
        );
        await unknown.body?.cancel();
        assert.equal(unknown.status, 308, "unknown tokens get the entrypoint's policy");

        const samples = await metrics(gh);
        assert.equal(sampleValue(samples, "gatehouse_acme_orders_total", { result: "valid" }), 2);
        for (const [i, host] of HOSTS.entries()) {
          const notAfter = sampleValue(samples, "gatehouse_tls_certs_not_after", {
            entrypoint: "websecure",
            sans: host,
            serial: serials[i],
          });
          assert.equal(notAfter, Date.parse(status[i].certificate!.notAfter) / 1000);
        }
        for (const h of status) {
          assert.equal((await Deno.stat(h.certificate!.keyFile)).mode! & 0o777, 0o600, h.host);
        }
        const caDir = new AcmeStorage(storage, pebble.directoryUrl).dir;
        assert.equal((await Deno.stat(join(caDir, "account.key"))).mode! & 0o777, 0o600);
        const left = [...Deno.readDirSync(join(caDir, "certificates", "a.test"))].map((e) =>
          e.name
        );
        assert.deepEqual(left.sort(), ["cert.pem", "key.pem"], "no temporary files left");
      }
      const orders = await ordersAtCa(storage, pebble.directoryUrl, pebble.caPem);
      assert.equal(orders, 2);

      await using again = await startGatehouse(yaml, false, workers);
      for (const [i, host] of HOSTS.entries()) {
        const served = await servedCertificate(again.port("websecure"), host, root);
        assert.equal(served.serial, serials[i], `${host} is served from storage at once`);
      }
      // The start-up check has run once every host has a renewal time.
      await waitFor(
        async () => (await acmeStatus(again)).every((h) => h.renewAt !== null),
        "the renewal check",
        10_000,
      );
      assert.equal(await ordersAtCa(storage, pebble.directoryUrl, pebble.caPem), orders);
      assert.equal(sampleValue(await metrics(again), "gatehouse_acme_orders_total"), undefined);
    } finally {
      await Deno.remove(storage, { recursive: true });
    }
  });
}
