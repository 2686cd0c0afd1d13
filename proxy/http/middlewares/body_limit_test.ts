import assert from "node:assert/strict";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { curl } from "../compress/test_helpers.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

for (const version of PROTOCOLS) {
  Deno.test(`body_limit: a declared length over it is 413 at once (HTTP/${version})`, async () => {
    await using up = httpUpstream(async (req) => new Response(String((await req.text()).length)));
    await using gw = await middlewareProxy(up.url, {
      middlewares: "upload: { body_limit: 1KiB }",
      route: "middlewares: [upload]",
    });
    const small = await request(gw, version, "/", { method: "POST", body: "x".repeat(1024) });
    assert.equal(await small.text(), "1024");
    const big = await request(gw, version, "/", { method: "POST", body: "x".repeat(1025) });
    assert.equal(big.status, 413);
    await big.body?.cancel();
    assert.equal(up.requests.length, 1);
    await waitFor(() => gw.outcomes.length === 2, "two access records");
    assert.equal(gw.outcomes[1].middleware, "upload");
    assert.equal(gw.outcomes[1].middlewareReason, "body_too_large");
  });
}

Deno.test("body_limit: a chunked body is cut where it passes the limit, with 413", async () => {
  await using up = httpUpstream(async (req) => new Response(await req.text().catch(() => "cut")));
  await using gw = await middlewareProxy(up.url, {
    middlewares: "upload: { body_limit: 100KiB }",
    route: "middlewares: [upload], max_body: 1MiB",
  });
  const body = await Deno.makeTempFile();
  await Deno.writeFile(body, new Uint8Array(300 * 1024));
  try {
    const res = await curl(
      gw.url("/"),
      "--http1.1",
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      `@${body}`,
    );
    assert.equal(res.status, 413);
  } finally {
    await Deno.remove(body);
  }
  await waitFor(() => gw.outcomes.length === 1, "the access record");
  assert.equal(gw.outcomes[0].status, 413);
  assert.equal(gw.outcomes[0].middleware, "upload");
  assert.equal(gw.outcomes[0].middlewareReason, "body_too_large");
});
