import assert from "node:assert/strict";
import { HeaderList } from "../proto/header_list.ts";
import { value } from "../config/test_helpers.ts";
import { cidr } from "../config/net_values.ts";
import { clientIp } from "./client_ip.ts";

const trusted = ["10.0.0.0/8", "::1"].map((c) => value(cidr(), c));
const xff = (v: string) => HeaderList.from([["x-forwarded-for", v]]);

Deno.test("the peer's address unless the peer is a trusted proxy", () => {
  const rules = { trustedProxies: trusted, clientIpDepth: 0 };
  assert.equal(clientIp("192.0.2.1", xff("203.0.113.9"), rules), "192.0.2.1");
  assert.equal(clientIp("10.1.1.1", new HeaderList(), rules), "10.1.1.1");
  assert.equal(clientIp("10.1.1.1", xff("203.0.113.9"), rules), "203.0.113.9");
});

Deno.test("depth 0: the rightmost address that is not a trusted proxy", () => {
  const rules = { trustedProxies: trusted, clientIpDepth: 0 };
  assert.equal(clientIp("10.1.1.1", xff("1.1.1.1, 203.0.113.9, 10.2.2.2"), rules), "203.0.113.9");
  assert.equal(clientIp("::1", xff("[2001:db8::5]:443, 10.0.0.2"), rules), "2001:db8::5");
  assert.equal(clientIp("10.1.1.1", xff("203.0.113.9:5000"), rules), "203.0.113.9");
  // Every hop trusted: the leftmost one.
  assert.equal(clientIp("10.1.1.1", xff("10.3.3.3, 10.2.2.2"), rules), "10.3.3.3");
  // A hop that is not an address ends the walk at the last good one.
  assert.equal(clientIp("10.1.1.1", xff("203.0.113.9, unknown, 10.2.2.2"), rules), "10.2.2.2");
  assert.equal(clientIp("10.1.1.1", xff("nonsense"), rules), "10.1.1.1");
});

Deno.test("depth N: the Nth address from the right", () => {
  const rules = { trustedProxies: trusted, clientIpDepth: 2 };
  assert.equal(clientIp("10.1.1.1", xff("1.1.1.1, 2.2.2.2, 3.3.3.3"), rules), "2.2.2.2");
  assert.equal(clientIp("10.1.1.1", xff("3.3.3.3"), rules), "3.3.3.3");
});
