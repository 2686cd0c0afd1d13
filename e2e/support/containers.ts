/**
 * testcontainers, typed by ./testcontainers.d.ts (the part the tests use) instead of the
 * package's own declarations: those pull in @types/node 18, whose `node:` builtins would
 * replace Deno's in any type check that also covers Gatehouse's sources.
 *
 * @module
 */
// @ts-types="./testcontainers.d.ts"
export { GenericContainer, Network, Wait } from "testcontainers";
export type { StartedNetwork, StartedTestContainer } from "./testcontainers.d.ts";
