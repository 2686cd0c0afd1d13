import assert from "node:assert/strict";
import { configOf, errorsOf, MINIMAL, TLS_MINIMAL, withCerts, yaml } from "./test_helpers.ts";

Deno.test("entrypoints: addresses, protocol, positions", async () => {
  const config = await configOf(yaml`
    entrypoints:
      public:
        address: "[::]:8080"
      local:
        address: "127.0.0.1:0"
        protocol: http
  `);
  assert.deepEqual(Object.keys(config.entrypoints), ["public", "local"]);
  assert.deepEqual(config.entrypoints.public.address, { hostname: "::", port: 8080 });
  assert.deepEqual(config.entrypoints.local.address, { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(config.entrypoints.local.pos, {
    file: "/nonexistent/config/test.yaml",
    line: 4,
    col: 3,
  });
});

Deno.test("entrypoints: names, required address and protocol are checked", async () => {
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints:
        Web:
          address: ":80"
        api:
          protocol: sctp
    `),
    [
      `2:3 entrypoints.Web: expected an entrypoint name (lowercase letters, digits, "_" and "-", starting with a letter or digit), found "Web"`,
      `5:5 entrypoints.api: missing required key "address"`,
      `5:15 entrypoints.api.protocol: expected one of "http", "tcp", "udp", found "sctp" (did you mean "http"?)`,
    ],
  );
});

Deno.test("a redirect entrypoint points at a TLS entrypoint, its port automatic by default", async () => {
  await withCerts(async (file) => {
    const config = await configOf(TLS_MINIMAL + "    redirect: { to: websecure }\n", file);
    assert.deepEqual(config.entrypoints.web.redirect, { to: "websecure", port: null });
    const explicit = await configOf(
      TLS_MINIMAL + "    redirect: { to: websecure, port: 443 }\n",
      file,
    );
    assert.deepEqual(explicit.entrypoints.web.redirect, { to: "websecure", port: 443 });
  });
});

Deno.test("redirects to unknown or plain entrypoints, or from TLS ones, are refused", async () => {
  await withCerts(async (file) => {
    const text = yaml`
      entrypoints:
        web:
          address: ":8080"
          redirect: { to: websecur }
        plain:
          address: ":8081"
          redirect: { to: web }
        websecure:
          address: ":8443"
          tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
          redirect: { to: websecure }
    `;
    assert.deepEqual(await errorsOf(text, file), [
      `4:21 entrypoints.web.redirect.to: unknown entrypoint "websecur" (TLS entrypoints: websecure)`,
      `7:21 entrypoints.plain.redirect.to: entrypoint "web" has no "tls" (TLS entrypoints: websecure)`,
      `11:5 entrypoints.websecure.redirect: "redirect" only works on entrypoints without "tls": remove one of them`,
    ]);
  });
  assert.deepEqual(await errorsOf(MINIMAL + "    redirect: { to: web }\n"), [
    `4:21 entrypoints.web.redirect.to: entrypoint "web" has no "tls" (no entrypoint has "tls")`,
  ]);
});

Deno.test("routes cannot be served on a redirecting entrypoint", async () => {
  await withCerts(async (file) => {
    const text = TLS_MINIMAL + yaml`
          redirect: { to: websecure }
      routes:
        - { entrypoints: [websecure, web], service: welcome@internal }
    `;
    assert.deepEqual(await errorsOf(text, file), [
      `11:32 routes[0].entrypoints[1]: entrypoint "web" redirects every request to "websecure", so no route runs there`,
    ]);
  });
});

Deno.test("two listeners on one port with overlapping host names are refused", async () => {
  const text = yaml`
    entrypoints:
      a: { address: ":8080" }
      b: { address: "127.0.0.1:8080" }
      c: { address: "127.0.0.1:8081" }
      d: { address: "127.0.0.2:8081" }
      e: { address: "[::]:8082" }
      f: { address: "[::1]:8082" }
      g: { address: "127.0.0.1:0" }
      h: { address: ":0" }
      i: { address: "localhost:8083" }
      j: { address: "localhost:8083" }
    admin:
      address: "127.0.0.1:8081"
  `;
  assert.deepEqual(await errorsOf(text), [
    `3:17 entrypoints.b.address: port 8080 is already used by entrypoint "a" (0.0.0.0:8080)`,
    `7:17 entrypoints.f.address: port 8082 is already used by entrypoint "e" ([::]:8082)`,
    `11:17 entrypoints.j.address: port 8083 is already used by entrypoint "i" (localhost:8083)`,
    `13:12 admin.address: port 8081 is already used by entrypoint "c" (127.0.0.1:8081)`,
  ]);
});

Deno.test("the admin default address conflicts with an entrypoint on 9901", async () => {
  assert.deepEqual(await errorsOf(`entrypoints:\n  web: { address: ":9901" }\n`), [
    `1:1 admin.address: port 9901 is already used by entrypoint "web" (0.0.0.0:9901)`,
  ]);
});

Deno.test("h2c: on by default, only and off on plain http entrypoints, refused elsewhere", async () => {
  const config = await configOf(yaml`
    entrypoints:
      web: { address: ":8080" }
      grpc: { address: ":8081", h2c: only }
      legacy: { address: ":8082", h2c: off }
  `);
  const e = config.entrypoints;
  assert.deepEqual([e.web.h2c, e.grpc.h2c, e.legacy.h2c], ["on", "only", "off"]);
  const errors = await errorsOf(yaml`
    entrypoints:
      db: { address: ":5432", protocol: tcp, h2c: off }
      secure: { address: ":8443", h2c: only, tls: { certificates: [{ cert: a.crt, key: a.key }] } }
  `);
  assert.deepEqual(errors.filter((e) => e.includes(".h2c:")), [
    `2:42 entrypoints.db.h2c: "h2c" applies to plain http entrypoints, not a tcp entrypoint`,
    `3:31 entrypoints.secure.h2c: "h2c" applies to plain http entrypoints, not a TLS entrypoint (TLS chooses HTTP/2 by ALPN: see tls.alpn)`,
  ]);
});

Deno.test("workers: auto by default, or a count", async () => {
  assert.equal((await configOf(MINIMAL)).workers, "auto");
  assert.equal((await configOf(MINIMAL + "workers: 4\n")).workers, 4);
  assert.deepEqual(await errorsOf(MINIMAL + "workers: none\n"), [
    `4:10 workers: expected "auto" or an integer from 1 to 256, found "none"`,
  ]);
});
