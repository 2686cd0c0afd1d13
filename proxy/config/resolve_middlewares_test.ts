import assert from "node:assert/strict";
import { configOf, errorsOf, MINIMAL, yaml } from "./test_helpers.ts";

const APP = yaml`
  services:
    app: { servers: [http://app:3000] }
`;

Deno.test("middlewares: defined by name, referenced by routes and entrypoints in order", async () => {
  const config = await configOf(
    yaml`
    entrypoints:
      web: { address: ":8080", middlewares: [secure] }
    middlewares:
      secure: { headers: { content_type_nosniff: true } }
      office: { ip_allow: [10.0.0.0/8, "::1"] }
      upload: { body_limit: 1MiB }
    routes:
      - { service: app, middlewares: [office, upload] }
  ` + APP,
  );
  assert.deepEqual(config.entrypoints.web.middlewares, ["secure"]);
  assert.deepEqual(config.routes[0].middlewares, ["office", "upload"]);
  const office = config.middlewares.office;
  assert.equal(office.kind, "ip_allow");
  assert.deepEqual(office.kind === "ip_allow" && office.cidrs.map((c) => c.text), [
    "10.0.0.0/8",
    "::1",
  ]);
  assert.deepEqual(config.middlewares.upload, {
    kind: "body_limit",
    maxBytes: 1024 * 1024,
    name: "upload",
    pos: config.middlewares.upload.pos,
  });
  assert.equal(config.middlewares.upload.pos.line, 6);
});

Deno.test("middleware errors name the file position, the kind and a guess", async () => {
  const errors = await errorsOf(
    yaml`
    entrypoints:
      web: { address: ":8080", middlewares: [secur] }
      raw: { address: ":9000", protocol: tcp, middlewares: [secure] }
    middlewares:
      secure: { headers: {} }
      empty: {}
      both: { ip_allow: 10.0.0.0/8, ip_deny: 10.1.0.0/16 }
      badcidr: { ip_deny: [10.0.0.300/8] }
      cors:
        headers: { cors: { allow_origins: "*", allow_credentials: true } }
      typo: { ip_alow: [10.0.0.0/8] }
    routes:
      - { service: app, middlewares: [secure, upload] }
  ` + APP,
  );
  const kinds = errors.map((e) => e.replace(/give one of "ip_allow", .*$/, "give one of <kinds>"));
  assert.deepEqual(kinds, [
    `2:42 entrypoints.web.middlewares[0]: unknown middleware "secur" (did you mean "secure"?) ` +
    `(known: secure, empty, both, badcidr, cors, typo)`,
    `3:3 entrypoints.raw: tcp entrypoint "raw" has no tcp_routes: add one that lists it`,
    `3:43 entrypoints.raw.middlewares: a tcp entrypoint runs no middlewares: remove "middlewares"`,
    `6:3 middlewares.empty: middleware "empty" has no kind: give one of <kinds>`,
    `7:3 middlewares.both: middleware "both" has 2 kinds ("ip_allow", "ip_deny"): define one ` +
    `middleware per kind and list them in order`,
    `8:24 middlewares.badcidr.ip_deny[0]: expected a CIDR block like "10.0.0.0/8" or an IP ` +
    `address like "::1", found "10.0.0.300/8"`,
    `10:63 middlewares.cors.headers.cors.allow_credentials: Cannot allow credentials for origin ` +
    `"*": browsers refuse it; list the origins instead`,
    `11:3 middlewares.typo: middleware "typo" has no kind: give one of <kinds>`,
    `11:11 middlewares.typo: unknown key "ip_alow" (did you mean "ip_allow"?)`,
    `13:43 routes[0].middlewares[1]: unknown middleware "upload" (known: secure, empty, both, ` +
    `badcidr, cors, typo)`,
  ]);
});

Deno.test("a route naming middlewares when none are defined says so", async () => {
  const errors = await errorsOf(
    MINIMAL + APP + yaml`
    routes: [{ service: app, middlewares: [auth] }]
  `,
  );
  assert.deepEqual(errors, [
    `6:40 routes[0].middlewares[0]: unknown middleware "auth" (no middlewares are defined)`,
  ]);
});
