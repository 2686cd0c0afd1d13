/**
 * Cost of certificate generation: `deno bench proxy/pki/generate_bench.ts`. Key generation is
 * included (each call makes a fresh P-256 key), as it is in every real use.
 *
 * @module
 */
import { createCa, createCsr, createLeaf, generateKeyPair } from "./generate.ts";

const ca = await createCa({ commonName: "Bench CA", days: 30 });
const keyPair = await generateKeyPair();

Deno.bench("createCa", async () => {
  await createCa({ commonName: "Bench CA", days: 30 });
});

Deno.bench("createLeaf (DNS, wildcard and IP SANs)", async () => {
  await createLeaf({
    ca,
    commonName: "localhost",
    dnsNames: ["localhost", "*.localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    days: 397,
  });
});

Deno.bench("createCsr (existing key pair)", async () => {
  await createCsr({ keyPair, dnsNames: ["a.test", "*.b.test"] });
});
