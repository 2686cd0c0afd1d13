import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import type { ServerRef } from "../config/types.ts";
import { UdpTransport } from "./udp_transport.ts";

function ref(hostname: string, port = 5353): ServerRef {
  return { url: `udp://${hostname}:${port}`, scheme: "udp", hostname, port, path: null, weight: 1 };
}

Deno.test("UdpTransport.address: an IP literal is the address as configured", async () => {
  for (const hostname of ["127.0.0.1", "::1", "10.0.0.7"]) {
    const transport = new UdpTransport(ref(hostname));
    assert.deepEqual(await transport.address(), { transport: "udp", hostname, port: 5353 });
  }
});

Deno.test("UdpTransport.address: a hostname is looked up once, and its address reused", async () => {
  const transport = new UdpTransport(ref("localhost"));
  const first = transport.address();
  assert.equal(transport.address(), first, "the second session shares the first lookup");
  const { address } = await lookup("localhost");
  assert.deepEqual(await first, { transport: "udp", hostname: address, port: 5353 });
});

Deno.test("UdpTransport.address: a name that does not resolve fails the session, and is tried again", async () => {
  const transport = new UdpTransport(ref("nonexistent.invalid"));
  const first = transport.address();
  await assert.rejects(first, /^Error: Cannot resolve nonexistent\.invalid: /);
  const second = transport.address();
  assert.notEqual(second, first, "a failed lookup is not reused");
  await assert.rejects(second, /Cannot resolve/);
});
