import assert from "node:assert/strict";
import { connect, proxyFor } from "../../testing/proxy.ts";
import { httpUpstream } from "../../testing/servers.ts";
import { field, readResponse } from "../../testing/wire.ts";

Deno.test("an absolute-form target is accepted: its authority replaces Host", async () => {
  await using up = httpUpstream((req) =>
    new Response(
      `${new URL(req.url).pathname}${new URL(req.url).search} ${req.headers.get("host")}`,
    )
  );
  await using gw = await proxyFor([up.url]);
  using client = await connect(gw.port("web"));
  await client.send("GET http://App.Test:8080/a/b?c=d HTTP/1.1\r\nhost: ignored.test\r\n\r\n");
  const res = await readResponse(client.reader);
  assert.equal(res.status, 200);
  assert.equal(new TextDecoder().decode(res.body), "/a/b?c=d app.test:8080");
  await client.send("GET http://app.test?x=1 HTTP/1.1\r\nhost: app.test\r\n\r\n");
  assert.equal(
    new TextDecoder().decode((await readResponse(client.reader)).body),
    "/?x=1 app.test",
  );
  assert.equal(gw.outcomes[0].host, "app.test:8080");
});

Deno.test("a connection whose request body failed says Connection: close before closing", async () => {
  await using up = httpUpstream(async (req) => new Response(await req.text()));
  await using gw = await proxyFor([up.url], { route: "max_body: 10B" });
  using client = await connect(gw.port("web"));
  await client.send(
    "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n" +
      "10\r\n0123456789abcdef\r\n0\r\n\r\n",
  );
  const res = await readResponse(client.reader);
  assert.equal(res.status, 413);
  assert.equal(field(res, "connection"), "close");
});
