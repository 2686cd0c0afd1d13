import assert from "node:assert/strict";
import http from "node:http";
import { captureLog, logText } from "../testing/logs.ts";
import { proxyFor, type TestProxy } from "../testing/proxy.ts";
import {
  closedPort,
  type HttpUpstream,
  httpUpstream,
  rawUpstream,
  waitFor,
} from "../testing/servers.ts";

/** Three named upstreams. */
function three(): [HttpUpstream, HttpUpstream, HttpUpstream] {
  const named = (name: string) => httpUpstream(undefined, { name });
  return [named("a"), named("b"), named("c")];
}

/** Sends `n` sequential GETs; counts answers by upstream name. */
async function spread(gw: TestProxy, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = await (await fetch(gw.url("/"))).text();
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

Deno.test("round_robin follows the weights", async () => {
  const [a, b, c] = three();
  await using _a = a, _b = b, _c = c;
  const servers = [a, b, c].map((u, i) => ({ url: u.url, weight: i === 2 ? 2 : 1 }));
  await using gw = await proxyFor(servers, { service: "balancing: round_robin" });
  const counts = await spread(gw, 300);
  for (const [name, expected] of [["a", 75], ["b", 75], ["c", 150]] as const) {
    assert.ok(Math.abs(counts[name] - expected) <= expected * 0.1, JSON.stringify(counts));
  }
});

Deno.test("random spreads requests over every server", async () => {
  const [a, b, c] = three();
  await using _a = a, _b = b, _c = c;
  await using gw = await proxyFor([a.url, b.url, c.url], { service: "balancing: random" });
  const counts = await spread(gw, 300);
  for (const name of ["a", "b", "c"]) assert.ok(counts[name] > 50, JSON.stringify(counts));
});

Deno.test("least_requests prefers an idle server over one stuck on a slow request", async () => {
  const release = Promise.withResolvers<void>();
  await using slow = httpUpstream(async () => {
    await release.promise;
    return new Response("slow");
  });
  await using fast = httpUpstream();
  await using gw = await proxyFor([slow.url, fast.url], { service: "balancing: least_requests" });
  const pending: Promise<void>[] = [];
  /** Sends one request; resolves with where it went once it is answered or stuck on `slow`. */
  const fire = async () => {
    const before = slow.requests.length;
    let answered = false;
    pending.push(
      fetch(gw.url("/")).then(async (r) => {
        await r.text();
        answered = true;
      }),
    );
    await waitFor(() => answered || slow.requests.length > before, "an answer");
    return answered ? "fast" : "slow";
  };
  try {
    while (slow.requests.length === 0) await fire();
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push(await fire());
    // Two random choices pick the busy server only when both draws land on it (1 in 64).
    assert.ok(sent.filter((s) => s === "slow").length <= 3, sent.join(" "));
  } finally {
    release.resolve();
    await Promise.all(pending);
  }
});

/** GET / from the local address `ip` (any 127.x.y.z works on loopback). */
function getFrom(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/", localAddress: ip, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => body += chunk);
        res.on("end", () => resolve(body));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

Deno.test("ip_hash sticks each client address to one server and spreads the addresses", async () => {
  const [a, b, c] = three();
  await using _a = a, _b = b, _c = c;
  await using gw = await proxyFor([a.url, b.url, c.url], { service: "balancing: ip_hash" });
  const chosen = new Set<string>();
  for (let host = 2; host < 22; host++) {
    const ip = `127.0.0.${host}`;
    const first = await getFrom(ip, gw.port());
    for (let i = 0; i < 4; i++) assert.equal(await getFrom(ip, gw.port()), first, ip);
    chosen.add(first);
  }
  assert.ok(chosen.size >= 2, `20 addresses all went to ${[...chosen]}`);
});

Deno.test("active health checks eject a failing server and bring it back", async () => {
  let healthy = true;
  await using a = httpUpstream((_req, seen) =>
    new Response("a", { status: seen.target === "/health" && !healthy ? 500 : 200 })
  );
  await using b = httpUpstream(undefined, { name: "b" });
  await using gw = await proxyFor([a.url, b.url], {
    service:
      "health_check: { path: /health, interval: 100ms, timeout: 80ms, healthy_threshold: 2, " +
      "unhealthy_threshold: 2 }",
  });
  const serverA = gw.runtime.snapshot.services.get("app")!.servers[0];
  const traffic = () => a.requests.filter((r) => r.target !== "/health").length;
  assert.deepEqual(await spread(gw, 4), { a: 2, b: 2 });

  healthy = false;
  await waitFor(() => !serverA.healthy, "server a to be marked down");
  const before = traffic();
  assert.deepEqual(await spread(gw, 10), { b: 10 });
  assert.equal(traffic(), before);

  healthy = true;
  await waitFor(() => serverA.healthy, "server a to be marked up");
  assert.ok((await spread(gw, 4)).a! >= 1);
});

Deno.test("passive health ejects a server after max_failures resets; no traffic goes there", async () => {
  await using bad = rawUpstream((_req, conn) => conn.close());
  await using good = httpUpstream();
  await using gw = await proxyFor([bad.url, good.url], {
    service: "passive_health: { max_failures: 2, window: 10s, eject_for: 30s }",
  });
  for (let i = 0; i < 10; i++) assert.equal(await (await fetch(gw.url("/"))).text(), "ok");
  assert.equal(bad.requests.length, 2);
  assert.equal(good.requests.length, 10);
});

Deno.test("when passive health has ejected every server, they are tried anyway (panic routing)", async () => {
  await using logs = await captureLog("runtime");
  const dead = `http://127.0.0.1:${closedPort()}`;
  await using gw = await proxyFor([dead], {
    service: "retries: 0, passive_health: { max_failures: 2, window: 10s, eject_for: 30s }",
  });
  const status = async () => {
    const res = await fetch(gw.url("/"));
    await res.body?.cancel();
    return res.status;
  };
  assert.equal(await status(), 502);
  assert.equal(await status(), 502);
  const server = gw.runtime.snapshot.services.get("app")!.servers[0];
  assert.ok(server.ejectedUntil > Date.now(), "the server is ejected");
  // Still asked (a 502 from the refused connect), not a 503 for everyone for 30 s.
  assert.equal(await status(), 502);
  assert.equal(gw.outcomes.at(-1)?.upstream, dead);
  // Logged once: the failure while it was out extended the ejection, it did not eject again.
  const ejected = logs.records.map(logText).filter((t) => t.includes("is ejected"));
  assert.deepEqual(ejected, [
    `Server ${dead} of service app is ejected for 30 s: it failed requests (passive_health; ` +
    "it gets requests before then only when every server is out)",
  ]);
});
