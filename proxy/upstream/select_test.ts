import assert from "node:assert/strict";
import type { Balancing } from "../config/types.ts";
import { createPolicy, type PickContext } from "./select.ts";
import { UpstreamServer } from "./server_state.ts";

/** Servers named by their host ("a" -> http://a:80), with weights. */
function servers(weights: Record<string, number>): UpstreamServer[] {
  return Object.entries(weights).map(([name, weight]) => {
    const url = `http://${name}:80`;
    return new UpstreamServer({
      url,
      scheme: "http",
      hostname: name,
      port: 80,
      path: null,
      weight,
    });
  });
}

/** Puts `n` requests in flight on `server`. */
function busyWith(server: UpstreamServer, n: number): void {
  for (let i = 0; i < n; i++) server.acquire();
}

function ctx(clientIp = "127.0.0.1", tried: UpstreamServer[] = []): PickContext {
  return { clientIp, tried: new Set(tried), now: Date.now() };
}

/** Host names of `n` picks. */
function picks(kind: Balancing, list: UpstreamServer[], n: number, ip?: (i: number) => string) {
  const policy = createPolicy(kind);
  return Array.from({ length: n }, (_, i) => policy.pick(list, ctx(ip?.(i)))?.ref.hostname);
}

function counts(names: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n!] = (out[n!] ?? 0) + 1;
  return out;
}

Deno.test("round_robin is smooth: weights 5,1,1 give a a b a c a a, over and over", () => {
  const list = servers({ a: 5, b: 1, c: 1 });
  assert.deepEqual(picks("round_robin", list, 14).join(" "), "a a b a c a a a a b a c a a");
  assert.deepEqual(counts(picks("round_robin", servers({ a: 1, b: 1, c: 2 }), 400)), {
    a: 100,
    b: 100,
    c: 200,
  });
});

Deno.test("every policy skips tried and unavailable servers, and gives null when none is left", () => {
  for (const kind of ["round_robin", "least_requests", "random", "ip_hash"] as const) {
    const [a, b, c] = servers({ a: 1, b: 1, c: 1 });
    const policy = createPolicy(kind);
    b.setHealthy(false);
    c.cell.eject(Date.now() + 60_000);
    for (let i = 0; i < 20; i++) assert.equal(policy.pick([a, b, c], ctx()), a, kind);
    assert.equal(policy.pick([a, b, c], ctx("127.0.0.1", [a])), null, kind);
    c.cell.eject(0);
    assert.equal(policy.pick([a, b, c], ctx("127.0.0.1", [a])), c, kind);
  }
});

Deno.test("least_requests prefers fewer requests in flight per weight", () => {
  const [busy, idle] = servers({ busy: 1, idle: 1 });
  busyWith(busy, 5);
  const chosen = counts(picks("least_requests", [busy, idle], 640));
  // Two random draws both land on the busy server 1 time in 64 at most.
  assert.ok((chosen.busy ?? 0) < 40, JSON.stringify(chosen));
  const [big, small] = servers({ big: 4, small: 1 });
  busyWith(big, 2);
  busyWith(small, 1);
  const weighted = counts(picks("least_requests", [big, small], 200));
  assert.ok(weighted.big > 180, JSON.stringify(weighted));
});

Deno.test("random spreads by weight", () => {
  const chosen = counts(picks("random", servers({ a: 1, b: 1, c: 2 }), 4000));
  for (const [name, share] of [["a", 0.25], ["b", 0.25], ["c", 0.5]] as const) {
    assert.ok(Math.abs(chosen[name] / 4000 - share) < 0.05, JSON.stringify(chosen));
  }
});

const IPS = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;

Deno.test("ip_hash sticks each client to one server and spreads clients by weight", () => {
  const list = servers({ a: 1, b: 1, c: 2 });
  const first = picks("ip_hash", list, 4000, IPS);
  assert.deepEqual(picks("ip_hash", list, 4000, IPS), first);
  const chosen = counts(first);
  for (const [name, share] of [["a", 0.25], ["b", 0.25], ["c", 0.5]] as const) {
    assert.ok(Math.abs(chosen[name] / 4000 - share) < 0.05, JSON.stringify(chosen));
  }
});

Deno.test("ip_hash moves only the clients of a server that leaves, and they spread", () => {
  const list = servers({ a: 1, b: 1, c: 1, d: 1 });
  const before = picks("ip_hash", list, 2000, IPS);
  list[2].setHealthy(false);
  const after = picks("ip_hash", list, 2000, IPS);
  const moved: string[] = [];
  before.forEach((server, i) => {
    if (server === "c") moved.push(after[i]!);
    else assert.equal(after[i], server, `client ${IPS(i)} moved from ${server} to ${after[i]}`);
  });
  const spread = counts(moved);
  assert.deepEqual(Object.keys(spread).sort(), ["a", "b", "d"]);
  for (const n of Object.values(spread)) assert.ok(n > moved.length / 6, JSON.stringify(spread));
  // And they come back when it does.
  list[2].setHealthy(true);
  assert.deepEqual(picks("ip_hash", list, 2000, IPS), before);
});
