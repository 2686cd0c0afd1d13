import assert from "node:assert/strict";
import { parse } from "yaml";
import type { Json, JsonObject } from "./dsl.ts";
import { jsonSchema, jsonSchemaText, REFERENCE_FILE, SCHEMA_FILE } from "./json_schema.ts";
import { reference } from "./reference.ts";

const STALE = "is out of date with proxy/config/schema.ts: run `deno task schema` and commit it";

Deno.test("config/gatehouse.schema.json is what schema.ts generates", async () => {
  const committed = await Deno.readTextFile(SCHEMA_FILE);
  assert.ok(committed === jsonSchemaText(), `config/gatehouse.schema.json ${STALE}`);
});

Deno.test("config/REFERENCE.md is what schema.ts generates", async () => {
  const committed = await Deno.readTextFile(REFERENCE_FILE);
  assert.ok(committed === reference(), `config/REFERENCE.md ${STALE}`);
});

/**
 * Checks `value` against the subset of JSON Schema the generator emits; returns the paths of
 * the problems. Enough to show editors would accept (or flag) a file.
 */
function check(schema: JsonObject, value: unknown, path = "$"): string[] {
  const problems: string[] = [];
  const types = [schema.type ?? []].flat() as string[];
  const kind = value === null
    ? "null"
    : Array.isArray(value)
    ? "array"
    : Number.isInteger(value)
    ? "integer"
    : typeof value;
  const fits = (t: string) => t === kind || (t === "number" && kind === "integer");
  if (types.length > 0 && !types.some(fits)) return [`${path}: type ${kind}`];
  if (schema.anyOf) {
    const ok = (schema.anyOf as JsonObject[]).some((s) => check(s, value, path).length === 0);
    if (!ok) problems.push(`${path}: no anyOf branch`);
  }
  if (schema.enum && !(schema.enum as Json[]).includes(value as Json)) {
    problems.push(`${path}: enum`);
  }
  if ("const" in schema && schema.const !== value) problems.push(`${path}: const`);
  if (typeof value === "string" && schema.pattern) {
    if (!new RegExp(schema.pattern as string, "u").test(value)) problems.push(`${path}: pattern`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < (schema.minimum as number)) {
      problems.push(`${path}: min`);
    }
    if (schema.maximum !== undefined && value > (schema.maximum as number)) {
      problems.push(`${path}: max`);
    }
  }
  if (Array.isArray(value) && schema.items) {
    if (schema.minItems && value.length < (schema.minItems as number)) {
      problems.push(`${path}: minItems`);
    }
    value.forEach((item, i) =>
      problems.push(...check(schema.items as JsonObject, item, `${path}[${i}]`))
    );
  }
  if (kind === "object") {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, JsonObject>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in object)) problems.push(`${path}: missing ${key}`);
    }
    for (const [key, item] of Object.entries(object)) {
      if (schema.propertyNames) {
        problems.push(...check(schema.propertyNames as JsonObject, key, `${path}.${key}`));
      }
      if (properties[key]) problems.push(...check(properties[key], item, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: unknown ${key}`);
      else if (schema.additionalProperties) {
        problems.push(...check(schema.additionalProperties as JsonObject, item, `${path}.${key}`));
      }
    }
  }
  return problems;
}

Deno.test("the JSON Schema accepts the shipped config files", async () => {
  for (const name of ["gatehouse.yaml", "example.yaml"]) {
    const text = await Deno.readTextFile(new URL(`../../config/${name}`, import.meta.url));
    assert.deepEqual(check(jsonSchema(), parse(text)), [], name);
  }
});

Deno.test("the JSON Schema flags unknown keys and malformed values", () => {
  const schema = jsonSchema();
  const valid = {
    entrypoints: { web: { address: ":8080" } },
    routes: [{ service: "app", match: { host: "a.test", methods: ["GET"] }, max_body: "off" }],
    services: { app: { servers: ["http://app:3000", { url: "https://b", weight: 2 }] } },
    timeouts: { connect: 5, drain: "1m30s" },
  };
  assert.deepEqual(check(schema, valid), []);
  assert.deepEqual(check(schema, { ...valid, rutes: [] }), ["$: unknown rutes"]);
  assert.deepEqual(check(schema, { ...valid, timeouts: { connect: "30 sec" } }), [
    "$.timeouts.connect: no anyOf branch",
  ]);
  assert.deepEqual(check(schema, { ...valid, limits: { max_header: "16kb" } }), [
    "$.limits.max_header: no anyOf branch",
  ]);
  assert.deepEqual(check(schema, { ...valid, timeouts: { connect: "${CONNECT:-3s}" } }), []);
  assert.deepEqual(check(schema, { entrypoints: { Web: { address: ":1" } } }), [
    "$.entrypoints.Web: pattern",
  ]);
  assert.deepEqual(check(schema, { entrypoints: { web: {} } }), [
    "$.entrypoints.web: missing address",
  ]);
  assert.deepEqual(check(schema, { ...valid, log: { level: "verbose" } }), [
    "$.log.level: no anyOf branch",
  ]);
  assert.deepEqual(check(schema, { ...valid, admin: { address: "off" } }), []);
  assert.deepEqual(check(schema, { ...valid, admin: { address: false } }), []);
  assert.deepEqual(check(schema, { ...valid, admin: { address: true } }), [
    "$.admin.address: no anyOf branch",
  ]);
  assert.deepEqual(
    check(schema, { ...valid, routes: [{ service: "a", timeouts: { body_idle: "off" } }] }),
    [],
  );
  assert.deepEqual(check(schema, { ...valid, limits: { max_body: 0, max_header: 4096 } }), []);
});

Deno.test("the JSON Schema carries draft, descriptions, defaults and closed objects", () => {
  const schema = jsonSchema();
  assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  const timeouts = (schema.properties as Record<string, JsonObject>).timeouts;
  const connect = (timeouts.properties as Record<string, JsonObject>).connect;
  assert.equal(connect.default, "5s");
  assert.equal(connect.description, "Connecting to an upstream server");
  const [plain, env] = connect.anyOf as JsonObject[];
  assert.equal(typeof plain.pattern, "string");
  assert.match("${NAME:-x}", new RegExp(env.pattern as string, "u"));
  assert.equal(timeouts.additionalProperties, false);
  const walk = (node: Json, path: string): void => {
    if (typeof node !== "object" || node === null) return;
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    const object = node as JsonObject;
    if (object.properties) {
      assert.equal(object.additionalProperties, false, `${path} must be closed`);
      for (const [key, property] of Object.entries(object.properties as JsonObject)) {
        assert.ok((property as JsonObject).description, `${path}.${key} needs a description`);
      }
    }
    if (typeof object.pattern === "string") new RegExp(object.pattern, "u");
    for (const [key, child] of Object.entries(object)) walk(child, `${path}.${key}`);
  };
  walk(schema, "$");
});
