import assert from "node:assert/strict";
import { type Digest, digestOf, patternStream } from "./testing/bytes.ts";
import { spawnProxy } from "./testing/process.ts";
import { tlsClient, yaml } from "./testing/proxy.ts";
import { httpUpstream } from "./testing/servers.ts";

const SIZE = 100 * 1024 * 1024;
const MiB = 1024 * 1024;

Deno.test("100 MiB up and down through TLS (h1, and h2 down) keep their SHA-256 and bounded memory", async () => {
  const sent: Digest[] = [];
  await using up = httpUpstream(async (req, seen) => {
    if (seen.target === "/upload") return Response.json(await digestOf(req.body!));
    if (seen.target === "/download") return new Response(patternStream(SIZE, (d) => sent.push(d)));
    return new Response("warm");
  });
  await using gw = await spawnProxy((port) =>
    yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:${port}"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
    admin: { address: "off" }
    log: { access_log: { enabled: false } }
  `
  );
  const url = (path: string) => `https://localhost:${gw.port}${path}`;
  using h1 = await tlsClient("1.1");
  using h2 = await tlsClient("2");
  for (const client of [h1, h2]) {
    assert.equal(await (await fetch(url("/"), { client })).text(), "warm");
  }
  const before = await gw.memory();

  let uploaded: Digest | undefined;
  const upload = await fetch(url("/upload"), {
    client: h1,
    method: "POST",
    body: patternStream(SIZE, (d) => uploaded = d),
  });
  assert.deepEqual(await upload.json(), uploaded);
  assert.equal(uploaded?.bytes, SIZE);

  for (const client of [h1, h2]) {
    const res = await fetch(url("/download"), { client });
    const received = await digestOf(res.body!);
    assert.deepEqual(received, sent.at(-1));
    assert.equal(received.bytes, SIZE);
  }

  const after = await gw.memory();
  const growth = after.peak - before.rss;
  console.log(
    `proxy RSS before ${(before.rss / MiB).toFixed(1)} MiB, after ${
      (after.rss / MiB).toFixed(1)
    } MiB, ` +
      `peak ${(after.peak / MiB).toFixed(1)} MiB (growth to peak ${(growth / MiB).toFixed(1)} MiB)`,
  );
  // Measured: 59-87 MiB alone, up to 102 MiB with the whole suite running beside it (V8 grows its
  // heap under the stream of 64 KiB chunks). A body held whole would add its 100 MiB of live
  // bytes on top of that.
  assert.ok(growth < 128 * MiB, `the proxy grew by ${(growth / MiB).toFixed(1)} MiB`);
});
