import assert from "node:assert/strict";
import { loadConfigText } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { counterEntries, SharedState } from "./shared_state.ts";

async function config(middlewares: string): Promise<Config> {
  const loaded = await loadConfigText(
    `entrypoints: { web: { address: "127.0.0.1:0" } }\nroutes: [{ service: app }]\n` +
      `services: { app: { servers: ["http://127.0.0.1:9"] } }\n` + middlewares,
    "/nonexistent/gatehouse.yaml",
  );
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.config;
}

Deno.test("the shared counter store has room for every rate_limit's max_keys, within a bound", async () => {
  assert.equal(counterEntries(await config("")), 65_536);
  const two = await config(
    "middlewares:\n" +
      "  a: { rate_limit: { average: 1, period: 1s } }\n" +
      "  b: { rate_limit: { average: 1, period: 1s, max_keys: 500 } }\n" +
      "  c: { in_flight_limit: { amount: 1 } }\n",
  );
  assert.equal(counterEntries(two), 65_536 + 100_000 + 500);
  assert.equal(
    new SharedState(two).counters.capacity,
    65_536 + 100_000 + 504,
    "whole buckets of 8",
  );
  const huge = await config(
    "middlewares:\n  a: { rate_limit: { average: 1, period: 1s, max_keys: 10000000 } }\n",
  );
  assert.equal(counterEntries(huge), 4_194_304);
});
