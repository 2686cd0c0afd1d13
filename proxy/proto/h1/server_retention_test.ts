import assert from "node:assert/strict";

const SCRIPT = new URL("../../testing/h1_retention.ts", import.meta.url).pathname;

Deno.test("an idle keep-alive connection does not keep its last request in memory", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", SCRIPT],
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim());
  assert.deepEqual(result, { answered: true, released: true });
});
