import assert from "node:assert/strict";
import { cidr } from "../config/net_values.ts";
import { decode } from "../config/test_helpers.ts";
import type { Cidr } from "../config/types.ts";
import { inCidrs } from "./cidr.ts";

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((text) => {
    const parsed = decode(cidr(), text);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.value;
  });
}

Deno.test("inCidrs matches IPv4, IPv6 and IPv4-mapped IPv6 addresses against CIDRs", () => {
  const trusted = cidrs("10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12", "fd00::/8", "::1/128");
  const yes = [
    "10.1.2.3",
    "192.168.1.77",
    "172.31.255.255",
    "::ffff:10.9.9.9",
    "::FFFF:192.168.1.1",
    "fd12:3456::1",
    "::1",
    "fd00::1%eth0",
  ];
  const no = [
    "11.0.0.1",
    "192.168.2.1",
    "172.32.0.1",
    "::ffff:11.0.0.1",
    "fe00::1",
    "::2",
    "not an address",
    "",
  ];
  for (const ip of yes) assert.ok(inCidrs(ip, trusted), ip);
  for (const ip of no) assert.ok(!inCidrs(ip, trusted), ip);
  assert.ok(!inCidrs("10.1.2.3", []));
  assert.ok(inCidrs("8.8.8.8", cidrs("0.0.0.0/0")));
  assert.ok(!inCidrs("::1", cidrs("0.0.0.0/0")));
  // An IPv6 block does not take IPv4 peers, mapped or not.
  assert.ok(!inCidrs("10.1.2.3", cidrs("::/0")));
});
