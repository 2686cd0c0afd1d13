import assert from "node:assert/strict";
import { configOf, withCerts, yaml } from "../config/test_helpers.ts";
import { acmePlan } from "./plan.ts";

Deno.test("the plan: exact route hosts of ACME entrypoints, files first, wildcards and IPs skipped", async () => {
  await withCerts(async (file) => {
    const config = await configOf(
      yaml`
        entrypoints:
          web: { address: ":8080" }
          websecure:
            address: ":8443"
            tls:
              acme: true
              certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }]
          alt: { address: ":9443", tls: { acme: true } }
          files: { address: ":10443", tls: { certificates: [{ cert: ../certs/other.crt, key: ../certs/other.key }] } }
        routes:
          - { match: { host: [shop.example.com, api.localhost, "*.example.org"] }, service: welcome@internal }
          - { entrypoints: [websecure], match: { host: [admin.example.com, 10.0.0.1] }, service: welcome@internal }
          - { entrypoints: [files], match: { host: only-files.example.com }, service: welcome@internal }
          - { entrypoints: [alt], match: { path: /any }, service: welcome@internal }
          - { entrypoints: [alt], match: { host: localhost.example.com.localhost }, service: welcome@internal }
        acme: { agree_tos: true }
      `,
      file,
    );
    const plan = acmePlan(config);
    assert.deepEqual([...plan.hosts], [
      ["shop.example.com", ["websecure", "alt"]],
      ["admin.example.com", ["websecure"]],
    ]);
    assert.deepEqual(plan.skipped.map((s) => s.host), [
      "*.example.org",
      "10.0.0.1",
      "api.localhost",
      'route "*/any"',
      "localhost.example.com.localhost",
    ]);
    assert.match(plan.skipped[0].reason, /DNS-01 challenge, which Gatehouse does not do/);
  });
});

Deno.test("no entrypoint with acme, no plan", async () => {
  await withCerts(async (file) => {
    const config = await configOf(
      yaml`
        entrypoints:
          websecure: { address: ":8443", tls: { certificates: [{ cert: ../certs/other.crt, key: ../certs/other.key }] } }
        routes: [{ match: { host: a.example.com }, service: welcome@internal }]
      `,
      file,
    );
    assert.deepEqual(acmePlan(config), { hosts: new Map(), skipped: [] });
  });
});
