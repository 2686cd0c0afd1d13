import assert from "node:assert/strict";
import { configOf, errorsOf, yaml } from "./test_helpers.ts";

function withEnv(vars: Record<string, string>, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
    try {
      await fn();
    } finally {
      for (const k of Object.keys(vars)) Deno.env.delete(k);
    }
  };
}

Deno.test(
  "a plain value that is only a reference is read again as YAML (a number here)",
  withEnv({ GH_TEST_LIMIT: "2048" }, async () => {
    const config = await configOf(yaml`
      entrypoints:
        web:
          address: ":\${GH_TEST_PORT:-8088}"
      limits:
        max_connections: \${GH_TEST_LIMIT}
    `);
    assert.equal(config.entrypoints.web.address.port, 8088);
    assert.equal(config.limits.maxConnections, 2048);
  }),
);

Deno.test(
  "a set variable wins over the default, and $${ stays a literal",
  withEnv({ GH_TEST_VIA: "edge-1" }, async () => {
    const config = await configOf(yaml`
      entrypoints:
        web:
          address: ":8080"
      forwarding:
        via: \${GH_TEST_VIA:-gatehouse}
      not_found:
        body: "cost: $\${price}"
    `);
    assert.equal(config.forwarding.via, "edge-1");
    assert.equal(config.notFound.body, "cost: ${price}");
  }),
);

Deno.test("an unset variable without default is an error at its position and path", async () => {
  const errors = await errorsOf(yaml`
    entrypoints:
      web:
        address: ":8080"
    forwarding:
      via: \${GH_TEST_SURELY_UNSET}
  `);
  assert.deepEqual(errors, [
    "5:8 forwarding.via: environment variable GH_TEST_SURELY_UNSET is not set " +
    "(write ${GH_TEST_SURELY_UNSET:-default})",
  ]);
});

Deno.test("a quoted reference stays a string", async () => {
  const errors = await errorsOf(yaml`
    entrypoints:
      web:
        address: ":8080"
    limits:
      max_connections: "\${GH_TEST_UNSET_TOO:-12}"
  `);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /limits\.max_connections/);
});
