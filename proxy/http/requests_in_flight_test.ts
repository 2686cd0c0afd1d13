import assert from "node:assert/strict";
import { startGatehouse, type TestGatehouse } from "../testing/gatehouse.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";

/** curl's status and body for `url` over h2c with prior knowledge. */
async function curlH2(url: string): Promise<{ status: number; body: string }> {
  const { stdout } = await new Deno.Command("curl", {
    args: ["-s", "--http2-prior-knowledge", "-w", "\n%{http_code}", url],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

/** gatehouse_requests_in_flight and gatehouse_requests_in_flight_limit, as the main isolate reads them. */
async function gauges(gh: TestGatehouse): Promise<[number, number]> {
  const samples = await gh.gatehouse.control.samples();
  const value = (name: string) => samples.find((m) => m.name === name)!.values[0].value;
  return [value("gatehouse_requests_in_flight"), value("gatehouse_requests_in_flight_limit")];
}

// The count is one over every worker isolate.
for (const workers of [1, 2]) {
  Deno.test(`max_requests_in_flight: past it a request gets 503 on HTTP/1.1 and HTTP/2, and ended requests free places (workers: ${workers})`, async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => open = resolve);
    await using up = httpUpstream(async (req) => {
      if (new URL(req.url).pathname === "/slow") await gate;
      return new Response("ok");
    });
    await using gh = await startGatehouse(
      `
      entrypoints: { web: { address: "127.0.0.1:0" } }
      routes: [{ service: app }]
      services: { app: { servers: ["${up.url}"] } }
      limits: { max_requests_in_flight: 3 }
    `,
      false,
      workers,
    );
    const base = `http://127.0.0.1:${gh.port()}`;
    const clients = Array.from({ length: 3 }, () => Deno.createHttpClient({}));
    try {
      const slow = clients.map((client) => fetch(`${base}/slow`, { client }));
      await waitFor(() => up.requests.length === 3, "three requests at the upstream");
      const over = await fetch(`${base}/`);
      assert.equal(over.status, 503);
      assert.equal(over.headers.get("retry-after"), "1");
      assert.match(
        await over.text(),
        /3 requests are in flight \(limits\.max_requests_in_flight\)/,
      );
      const h2 = await curlH2(`${base}/`);
      assert.equal(h2.status, 503, "an HTTP/2 stream counts as a request");
      assert.deepEqual(await gauges(gh), [3, 3], "in flight, and the limit");
      open();
      for (const res of await Promise.all(slow)) assert.equal(await res.text(), "ok");
      await waitFor(async () => {
        const res = await fetch(`${base}/`);
        await res.body?.cancel();
        return res.status === 200;
      }, "a place free again");
      assert.equal((await curlH2(`${base}/`)).status, 200);
      await waitFor(async () => (await gauges(gh))[0] === 0, "every count ended");
    } finally {
      open();
      for (const client of clients) client.close();
    }
  });
}
