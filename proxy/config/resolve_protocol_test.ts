import assert from "node:assert/strict";
import { configOf, errorsOf, MINIMAL, yaml } from "./test_helpers.ts";

Deno.test("protocol: h2c:// servers, h2 and auto resolve to the service's httpProtocol", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    services:
      grpc: { servers: [H2C://Grpc:50051, "h2c://[::1]"] }
      tls2: { servers: [https://api:8443], protocol: h2 }
      plain2: { servers: [http://api:8080], protocol: h2 }
      either: { servers: [https://api:8443], protocol: auto }
  `,
  );
  const s = config.services;
  assert.deepEqual(s.grpc.servers.map((r) => [r.url, r.scheme, r.hostname, r.port]), [
    ["h2c://grpc:50051", "h2c", "grpc", 50051],
    ["h2c://[::1]:80", "h2c", "::1", 80],
  ]);
  assert.deepEqual(
    [s.grpc, s.tls2, s.plain2, s.either].map((v) => v.httpProtocol),
    ["http/1.1", "h2", "h2", "auto"],
  );
});

Deno.test("protocol: h2c:// with http/1.1 or auto, auto on plain servers, protocol on tcp", async () => {
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints: { web: { address: ":8080" } }
      services:
        a: { servers: [h2c://g:1], protocol: http/1.1 }
        b: { servers: [https://x:1, http://y:2], protocol: auto }
        c: { servers: [tcp://db:1], protocol: h2 }
        d: { servers: [http://a:1], protocol: h3 }
    `),
    [
      `3:18 services.a.servers[0]: server "h2c://g:1" speaks HTTP/2 without TLS (h2c://), but "protocol" is "http/1.1": remove "protocol" or set it to "h2"`,
      `4:31 services.b.servers[1]: protocol "auto" chooses by ALPN, which needs TLS, but server "http://y:2" is plain: use "h2" (HTTP/2 with prior knowledge) or "http/1.1"`,
      `5:31 services.c.protocol: "protocol" applies to http services only`,
      `6:41 services.d.protocol: expected one of "http/1.1", "h2", "auto", found "h3" (did you mean "h2"?)`,
    ],
  );
});

Deno.test("health_check.grpc: on HTTP/2 services, instead of path", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    services:
      grpc: { servers: [h2c://g:50051], health_check: { grpc: "" } }
      named: { servers: [https://g:443], protocol: h2, health_check: { grpc: my.Svc } }
  `,
  );
  assert.equal(config.services.grpc.healthCheck?.grpcService, "");
  assert.equal(config.services.grpc.healthCheck?.path, null);
  assert.equal(config.services.named.healthCheck?.grpcService, "my.Svc");
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints: { web: { address: ":8080" } }
      services:
        a: { servers: [http://a:1], health_check: { grpc: "" } }
        b: { servers: [h2c://b:1], health_check: { grpc: "", path: / } }
    `),
    [
      `3:47 services.a.health_check.grpc: a gRPC health check needs HTTP/2 to every server: use h2c:// servers or "protocol: h2"`,
      `4:46 services.b.health_check.grpc: "grpc" and "path" exclude each other: keep one`,
    ],
  );
});
