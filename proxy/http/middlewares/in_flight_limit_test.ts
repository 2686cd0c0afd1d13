import assert from "node:assert/strict";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

for (const version of PROTOCOLS) {
  Deno.test(`in_flight_limit: one request over the limit gets 429 at once (HTTP/${version})`, async () => {
    const gates: (() => void)[] = [];
    await using up = httpUpstream(async () => {
      await new Promise<void>((resolve) => gates.push(resolve));
      return new Response("done");
    });
    await using gw = await middlewareProxy(up.url, {
      middlewares: "two: { in_flight_limit: { amount: 2 } }",
      route: "middlewares: [two]",
    });
    const first = request(gw, version, "/slow");
    const second = request(gw, version, "/slow");
    await waitFor(() => gates.length === 2, "two requests at the upstream");
    const third = await request(gw, version, "/slow");
    assert.equal(third.status, 429);
    assert.equal(third.headers.get("retry-after"), "1");
    await third.body?.cancel();
    for (const open of gates.splice(0)) open();
    assert.equal(await (await first).text(), "done");
    assert.equal(await (await second).text(), "done");
    // Both counts ended with their bodies: two fit again.
    const again = [request(gw, version, "/"), request(gw, version, "/")];
    await waitFor(() => gates.length === 2, "two more requests at the upstream");
    for (const open of gates.splice(0)) open();
    for (const res of await Promise.all(again)) assert.equal(await res.text(), "done");
    const refused = gw.outcomes.filter((o) => o.status === 429);
    assert.equal(refused.length, 1);
    assert.equal(refused[0].middlewareReason, "too_many_in_flight");
  });
}

Deno.test("in_flight_limit: a failed request ends its count too", async () => {
  await using gw = await middlewareProxy("http://127.0.0.1:1", {
    middlewares: "one: { in_flight_limit: { amount: 1 } }",
    route: "middlewares: [one]",
  });
  for (let i = 0; i < 3; i++) {
    const res = await fetch(gw.url("/"));
    await res.body?.cancel();
    assert.equal(res.status, 502);
  }
});
