import assert from "node:assert/strict";
import { HostTable } from "./host_table.ts";
import { checkHostCases, HOST_PATTERNS } from "./host_table_cases.ts";

Deno.test("HostTable: exact names, then the wildcard one label up (shared cases)", () => {
  const table = new HostTable<string>();
  for (const p of HOST_PATTERNS) table.claim(p, p);
  assert.deepEqual(checkHostCases((name) => table.match(name) ?? null), []);
});

Deno.test("HostTable: the first claim wins; matchAll gives exact then wildcard", () => {
  const table = new HostTable<string>();
  table.claim("a.test", "first");
  table.claim("A.TEST", "second");
  table.claim("*.test", "wild");
  assert.equal(table.match("a.test"), "first");
  assert.deepEqual(table.matchAll("a.test"), ["first", "wild"]);
  assert.deepEqual(table.matchAll("b.test"), ["wild"]);
  assert.equal(table.covers("b.test"), true);
  assert.equal(table.covers("test"), false);
  const lists = new HostTable<string[]>();
  lists.getOrCreate("*.x.test", () => []).push("r1");
  lists.getOrCreate("*.X.test", () => []).push("r2");
  assert.deepEqual(lists.match("a.x.test"), ["r1", "r2"]);
  assert.deepEqual(lists.values(), [["r1", "r2"]]);
});
