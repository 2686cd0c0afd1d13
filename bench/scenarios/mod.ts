/**
 * Every scenario, in the order each round runs them and the report lists them.
 *
 * @module
 */
import { COMPRESSION_SCENARIOS } from "./compression.ts";
import { H2C_SCENARIOS } from "./h2c.ts";
import { HTTP_SCENARIOS } from "./http.ts";
import { LATENCY_SCENARIOS } from "./latency.ts";
import { MEMORY_SCENARIOS } from "./memory.ts";
import { TCP_SCENARIOS } from "./tcp.ts";
import type { Scenario } from "./types.ts";
import { UDP_SCENARIOS } from "./udp.ts";
import { WEBSOCKET_SCENARIOS } from "./websocket.ts";

export type { Scenario, ScenarioContext, Timing } from "./types.ts";
export { CPU_METRICS } from "./types.ts";

/** All scenarios. */
export const SCENARIOS: Scenario[] = [
  ...HTTP_SCENARIOS,
  ...LATENCY_SCENARIOS,
  ...MEMORY_SCENARIOS,
  ...WEBSOCKET_SCENARIOS,
  ...TCP_SCENARIOS,
  ...UDP_SCENARIOS,
  ...H2C_SCENARIOS,
  ...COMPRESSION_SCENARIOS,
];
