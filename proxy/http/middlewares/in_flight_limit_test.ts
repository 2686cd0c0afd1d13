import assert from "node:assert/strict";
import { requestsPerWorker, startGatehouse } from "../../testing/gatehouse.ts";
import { yaml } from "../../testing/proxy.ts";
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

Deno.test("in_flight_limit is global across workers, through a client abort and a reload (workers: 2)", async () => {
  const gates: (() => void)[] = [];
  let ending = false;
  await using up = httpUpstream(async () => {
    if (!ending) await new Promise<void>((resolve) => gates.push(resolve));
    return new Response("done");
  });
  const config = (tag: string) =>
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    admin: { address: off }
    middlewares:
      two: { in_flight_limit: { amount: 2, key: route } }
      tag: { headers: { response: { set: { x-tag: "${tag}" } } } }
    routes: [{ service: app, middlewares: [tag, two] }]
    services: { app: { servers: [${up.url}] } }
  `;
  await using gh = await startGatehouse(config("one"), false, 2);
  // Disposed first: a failed assertion leaves no request held for the drain to wait on.
  using _ = {
    [Symbol.dispose]() {
      ending = true;
      for (const open of gates.splice(0)) open();
    },
  };
  const answers: Promise<string>[] = [];
  /** A request on a connection of its own, so the kernel picks either worker's listener. */
  const send = (signal?: AbortSignal) => {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const answer = fetch(`http://127.0.0.1:${gh.port()}/`, { client, signal })
      .then(async (res) => `${res.status} ${await res.text()}`, (err) => (err as Error).name)
      .finally(() => client.close());
    answers.push(answer);
    return answer;
  };
  /** Sends a request: "held" once it reached the upstream, else its answer (a refusal). */
  const hold = (signal?: AbortSignal) => {
    const before = gates.length;
    const answer = send(signal);
    let timer: ReturnType<typeof setInterval> | undefined;
    return new Promise<string>((resolve) => {
      timer = setInterval(() => gates.length > before && resolve("held"), 5);
      answer.then(resolve);
    }).finally(() => clearInterval(timer));
  };
  /**
   * `n` requests at once, each on a connection of its own: how many were refused (one let
   * through would wait at the upstream: it is given up after 5 s).
   */
  const refused = async (n: number) => {
    const all = await Promise.all(Array.from({ length: n }, () => send(AbortSignal.timeout(5000))));
    return all.filter((a) => a.startsWith("429 ")).length;
  };

  const abort = new AbortController();
  assert.equal(await hold(abort.signal), "held");
  assert.equal(await hold(), "held");
  assert.equal(await refused(20), 20);
  const counts = await requestsPerWorker(gh);
  assert.ok(counts.length === 2 && counts.every((n) => n > 0), `both workers refused: ${counts}`);

  // A reload that keeps the definition keeps the counts: still full.
  await Deno.writeTextFile(gh.file, config("two"));
  assert.equal((await gh.gatehouse.reload("test")).ok, true);
  assert.equal(await refused(4), 4);

  // The aborted request releases once, while the other still runs: room for one, not two.
  abort.abort();
  gates.shift()!();
  assert.equal(await answers[0], "AbortError");
  await waitFor(async () => await hold() === "held", "a request in flight again");
  assert.equal(await refused(6), 6);
  // The answered ones release once each too: two fit again, not one or three.
  for (const open of gates.splice(0)) open();
  assert.equal(await answers[1], "200 done");
  await waitFor(async () => await hold() === "held", "a first request in flight again");
  await waitFor(async () => await hold() === "held", "a second request in flight again");
  assert.equal(await refused(6), 6);
  for (const open of gates.splice(0)) open();
  await Promise.all(answers);
});
