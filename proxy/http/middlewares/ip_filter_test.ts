import assert from "node:assert/strict";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { startGatehouse } from "../../testing/gatehouse.ts";
import { yaml } from "../../testing/proxy.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

for (const version of PROTOCOLS) {
  Deno.test(`ip_allow refuses other clients with 403 over HTTP/${version}`, async () => {
    await using up = httpUpstream();
    await using gw = await middlewareProxy(up.url, {
      middlewares: yaml`
        office: { ip_allow: [10.0.0.0/8, 192.168.0.0/16] }
        local: { ip_allow: 127.0.0.1 }
      `,
      route: "middlewares: [office]",
    });
    const res = await request(gw, version, "/admin");
    assert.equal(res.status, 403);
    assert.equal(await res.text(), "403 Forbidden\n");
    assert.equal(up.requests.length, 0);
    await waitFor(() => gw.outcomes.length === 1, "the access record");
    const [record] = gw.outcomes;
    assert.equal(record.middleware, "office");
    assert.equal(record.middlewareReason, "ip_denied");
    assert.equal(record.source, "client");
    assert.equal(record.error, "client address 127.0.0.1 refused by ip_allow");
  });

  Deno.test(`ip_deny refuses the listed clients, others pass, over HTTP/${version}`, async () => {
    await using up = httpUpstream();
    await using gw = await middlewareProxy(up.url, {
      middlewares: yaml`
        loopback: { ip_deny: [127.0.0.0/8] }
        elsewhere: { ip_deny: [203.0.113.0/24] }
      `,
      route: "middlewares: [elsewhere]",
    });
    const ok = await request(gw, version, "/");
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "ok");
  });
}

Deno.test("behind a trusted proxy the address comes from X-Forwarded-For, else never", async () => {
  await using up = httpUpstream();
  const mw = yaml`
    partners: { ip_allow: [203.0.113.0/24] }
  `;
  await using trusting = await middlewareProxy(up.url, {
    middlewares: mw,
    route: "middlewares: [partners]",
    config: "forwarding: { trusted_proxies: [127.0.0.1] }",
  });
  const status = async (xff: string) => {
    const res = await fetch(trusting.url("/"), { headers: { "x-forwarded-for": xff } });
    await res.body?.cancel();
    return res.status;
  };
  assert.equal(await status("203.0.113.5"), 200);
  assert.equal(await status("10.9.9.9, 203.0.113.5"), 200);
  assert.equal(await status("203.0.113.5, 10.9.9.9"), 403);
  await using untrusting = await middlewareProxy(up.url, {
    middlewares: mw,
    route: "middlewares: [partners]",
  });
  const res = await fetch(untrusting.url("/"), { headers: { "x-forwarded-for": "203.0.113.5" } });
  await res.body?.cancel();
  assert.equal(res.status, 403);
});

Deno.test("refusals are counted by middleware and reason", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    admin: { address: "127.0.0.1:0" }
    middlewares:
      office: { ip_allow: [10.0.0.0/8] }
    routes: [{ service: app, middlewares: [office] }]
    services: { app: { servers: [${up.url}] } }
  `,
    false,
  );
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${gh.port()}/`);
    await res.body?.cancel();
    assert.equal(res.status, 403);
  }
  const line = `gatehouse_middleware_rejections_total{middleware="office",reason="ip_denied"} 3`;
  await waitFor(
    async () => (await (await fetch(gh.admin("/metrics"))).text()).includes(line),
    line,
  );
});
