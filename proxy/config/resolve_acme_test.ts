import assert from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../testing/certs.ts";
import { configOf, errorsOf, FILE, MINIMAL, withTempDir, yaml } from "./test_helpers.ts";

const ACME_ONLY = yaml`
  entrypoints:
    websecure:
      address: ":8443"
      tls: { acme: true }
`;

Deno.test("acme defaults: Let's Encrypt production, storage beside the config in certs/acme", async () => {
  const config = await configOf(ACME_ONLY + "acme: { agree_tos: true }\n");
  assert.deepEqual(config.acme, {
    directory: "https://acme-v02.api.letsencrypt.org/directory",
    email: null,
    agreeTos: true,
    caPem: null,
    caFile: null,
    storage: "/nonexistent/certs/acme",
    renewAt: 0.67,
    retryInitial: 60_000,
    retryMax: 3_600_000,
    timeout: 30_000,
  });
  const tls = config.entrypoints.websecure.tls!;
  assert.deepEqual([tls.acme, tls.certificates, tls.defaultCertificate], [true, [], null]);
  assert.equal((await configOf(MINIMAL)).entrypoints.web.tls, null);
});

Deno.test("acme settings: staging by name, any https directory, CA bundle, knobs", async () => {
  const staging = await configOf(ACME_ONLY + "acme: { agree_tos: true, directory: staging }\n");
  assert.equal(staging.acme.directory, "https://acme-staging-v02.api.letsencrypt.org/directory");
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "ca.pem"), (await testPki()).caPem);
    const file = join(dir, "gatehouse.yaml");
    const config = await configOf(
      ACME_ONLY + yaml`
        acme:
          directory: https://ca.internal:14000/dir
          email: ops@example.com
          agree_tos: true
          ca_file: ca.pem
          storage: /certs/acme
          renew_at: 50%
          retry_initial: 10s
          retry_max: 10m
          timeout: 5s
      `,
      file,
    );
    const { caPem, ...rest } = config.acme;
    assert.equal(caPem, (await testPki()).caPem);
    assert.deepEqual(rest, {
      directory: "https://ca.internal:14000/dir",
      email: "ops@example.com",
      agreeTos: true,
      caFile: join(dir, "ca.pem"),
      storage: "/certs/acme",
      renewAt: 0.5,
      retryInitial: 10_000,
      retryMax: 600_000,
      timeout: 5_000,
    });
    assert.ok(config.files.includes(join(dir, "ca.pem")), "the CA file is watched");
  });
});

Deno.test("ACME is refused until the terms of service are agreed, with where to read them", async () => {
  assert.deepEqual(await errorsOf(ACME_ONLY), [
    `4:12 entrypoints.websecure.tls.acme: ACME is used (entrypoint "websecure") but the CA's terms of service are not agreed: read them at https://letsencrypt.org/repository/, then set "acme.agree_tos: true"`,
  ]);
  assert.deepEqual(
    await errorsOf(ACME_ONLY + "acme:\n  directory: https://ca.internal/dir\n  agree_tos: false\n"),
    [
      `7:14 acme.agree_tos: ACME is used (entrypoint "websecure") but the CA's terms of service are not agreed: read them at the "termsOfService" link of https://ca.internal/dir, then set "acme.agree_tos: true"`,
    ],
  );
  assert.deepEqual(await errorsOf(MINIMAL + "acme: { email: a@b.example }\n"), [], "unused: fine");
});

Deno.test("acme and tls values are checked", async () => {
  const errors = await errorsOf(
    yaml`
      entrypoints:
        websecure: { address: ":8443", tls: { alpn: [h2] } }
      acme:
        directory: http://ca.internal/dir
        email: admin
        renew_at: 99%
        retry_initial: 2h
        retry_max: 1h
    `,
    FILE,
  );
  assert.deepEqual(errors, [
    `2:34 entrypoints.websecure.tls: "tls" needs "certificates", or "acme: true" to get them from the ACME CA`,
    `4:14 acme.directory: expected "production", "staging" or an https:// directory URL, found "http://ca.internal/dir"`,
    `5:10 acme.email: expected an email address like "admin@example.com", found "admin"`,
    `6:13 acme.renew_at: expected a percentage from 10% to 95%, like "67%", found "99%"`,
    `8:14 acme.retry_max: retry_max must be at least retry_initial`,
  ]);
});

Deno.test("acme is for http entrypoints: tcp ones serve tcp_routes, whose names ACME does not read", async () => {
  const errors = await errorsOf(yaml`
    entrypoints:
      redis: { address: ":6380", protocol: tcp, tls: { acme: true } }
    acme: { agree_tos: true }
  `);
  assert.deepEqual(errors.filter((e) => e.includes("acme")), [
    `2:58 entrypoints.redis.tls.acme: "acme" works on http entrypoints only: ACME reads the host names of HTTP routes`,
  ]);
});
