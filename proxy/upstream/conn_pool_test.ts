import assert from "node:assert/strict";
import { connect, proxyFor } from "../testing/proxy.ts";
import { httpUpstream, rawResponse, rawUpstream } from "../testing/servers.ts";
import { readResponse } from "../testing/wire.ts";

Deno.test("50 requests on one client connection reuse one upstream connection", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  using c = await connect(gw.port());
  for (let i = 0; i < 50; i++) {
    await c.send(`GET /${i} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    assert.equal((await readResponse(c.reader)).text, "ok");
  }
  assert.equal(up.requests.length, 50);
  assert.ok(up.connections <= 2, `${up.connections} upstream connections`);
});

Deno.test("an upstream restarted on its port is reached again, by name, without a restart", async () => {
  const first = httpUpstream(undefined, { name: "first" });
  const port = first.port;
  await using gw = await proxyFor([`http://localhost:${port}`]);
  assert.equal(await (await fetch(gw.url("/"))).text(), "first");
  // The pooled keep-alive connection to the old server dies with it.
  await first.close();
  await using second = httpUpstream(undefined, { name: "second", port });
  assert.equal(await (await fetch(gw.url("/"))).text(), "second");
  assert.equal(second.requests.length, 1);
});

Deno.test("an upstream down for a while gets 502s, then traffic again once it is back", async () => {
  const first = httpUpstream(undefined, { name: "first" });
  const port = first.port;
  await using gw = await proxyFor([`http://localhost:${port}`]);
  assert.equal((await fetch(gw.url("/"))).status, 200);
  await first.close();
  const down = await fetch(gw.url("/"));
  await down.body?.cancel();
  assert.equal(down.status, 502);
  await using _second = httpUpstream(undefined, { name: "second", port });
  assert.equal(await (await fetch(gw.url("/"))).text(), "second");
});

Deno.test({
  name: "a GET on a kept-alive connection the upstream just closed is replayed on a new one",
  async fn() {
    const served = new Map<Deno.Conn, number>();
    // Each connection answers one request, then closes unanswered when the next one comes.
    await using up = rawUpstream(async (_req, conn) => {
      const n = (served.get(conn.conn) ?? 0) + 1;
      served.set(conn.conn, n);
      if (n === 1) await conn.write(rawResponse(200, [], "ok"));
      else conn.close();
    });
    await using gw = await proxyFor([up.url]);
    assert.equal(await (await fetch(gw.url("/"))).text(), "ok");
    assert.equal(await (await fetch(gw.url("/"))).text(), "ok");
    assert.equal(up.accepted, 2);
  },
});
