import assert from "node:assert/strict";
import { Document, LineCounter } from "yaml";
import type { Field, Node, ObjNode } from "./dsl.ts";
import { configSchema } from "./schema.ts";
import { validate } from "./validate.ts";

/** Every field of every object in the schema, with its dotted path. */
function fields(node: Node, path: string): [string, Field][] {
  switch (node.kind) {
    case "obj":
      return Object.entries((node as ObjNode<unknown>).fields).flatMap((
        [key, field],
      ): [string, Field][] => {
        const inner = path === "" ? key : `${path}.${key}`;
        return [[inner, field], ...fields(field.schema, inner)];
      });
    case "list":
      return fields(node.item, `${path}[]`);
    case "map":
      return fields(node.value, `${path}.${node.placeholder}`);
    case "union":
      return fields(node.map, path);
    case "scalar":
      return [];
  }
}

const all = fields(configSchema, "");

Deno.test("every key has a one-line description without a final period", () => {
  assert.ok(all.length > 80, `only ${all.length} keys found`);
  for (const [path, field] of all) {
    assert.match(field.doc, /^[A-Z"].*[^.]$/, `${path}: "${field.doc}"`);
    assert.ok(!field.doc.includes("\n"), path);
  }
});

Deno.test("every written default is valid for its key", () => {
  for (const [path, field] of all) {
    if (field.default === undefined) continue;
    const doc = new Document(field.default);
    const { errors } = validate(field.schema, doc, new LineCounter(), "schema.ts");
    assert.deepEqual(errors, [], `default of ${path}`);
  }
});

Deno.test("inherited defaults name a top-level key of the same kind", () => {
  const byPath = new Map(all);
  const inheriting = all.filter(([, field]) => field.inherit !== undefined);
  assert.deepEqual(inheriting.map(([path]) => path), [
    "routes[].timeouts.response_header",
    "routes[].timeouts.body_idle",
    "routes[].max_body",
    "routes[].compression.enabled",
    "routes[].compression.codecs",
    "routes[].compression.levels.gzip",
    "routes[].compression.levels.br",
    "routes[].compression.levels.zstd",
    "routes[].compression.min_size",
    "routes[].compression.types",
    "tcp_routes[].timeouts.connect",
  ]);
  for (const [path, field] of inheriting) {
    const source = byPath.get(field.inherit!);
    assert.ok(source, `${path} inherits from unknown ${field.inherit}`);
    assert.equal(source.schema.kind, field.schema.kind, path);
    assert.equal(source.presence, "always", `${field.inherit} needs a default`);
    if (source.schema.kind === "scalar" && field.schema.kind === "scalar") {
      assert.equal(source.schema.type, field.schema.type, path);
    }
  }
});

Deno.test("a key is either required, defaulted, inherited or optional, never two", () => {
  for (const [path, field] of all) {
    const ways = [
      field.presence === "required",
      field.default !== undefined,
      field.inherit !== undefined,
      field.presence === "optional",
    ];
    assert.equal(ways.filter(Boolean).length, 1, path);
  }
});
