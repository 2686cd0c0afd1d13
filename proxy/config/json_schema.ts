/**
 * Generates the JSON Schema (draft 2020-12) of the YAML file from schema.ts, for editors.
 * `deno task schema` runs this module to write config/gatehouse.schema.json and
 * config/REFERENCE.md; json_schema_test.ts fails when the committed files are stale.
 *
 * @module
 */
import type { Field, JsonObject, Node } from "./dsl.ts";
import { reference } from "./reference.ts";
import { configSchema } from "./schema.ts";

/** Where the generated files live, relative to this module. */
export const SCHEMA_FILE = new URL("../../config/gatehouse.schema.json", import.meta.url);
/** The generated reference. */
export const REFERENCE_FILE = new URL("../../config/REFERENCE.md", import.meta.url);

/** The description of a field, with its computed default when it has one. */
export function fieldDoc(field: Field): string {
  if (field.inherit !== undefined) return `${field.doc}. Default: ${field.inherit}`;
  if (field.defaultText !== undefined) return `${field.doc}. Default: ${field.defaultText}`;
  return field.doc;
}

/** Any scalar may be an environment reference, resolved at load time (see env.ts). */
const ENV_REFERENCE: JsonObject = {
  type: "string",
  pattern: "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}",
  description: "Environment reference: ${NAME} or ${NAME:-default}",
};

function property(field: Field): JsonObject {
  const out: Record<string, unknown> = { description: fieldDoc(field), ...node(field.schema) };
  if (field.default !== undefined) out.default = field.default;
  return out as JsonObject;
}

function node(schema: Node): JsonObject {
  switch (schema.kind) {
    case "scalar":
      return { anyOf: [schema.json, ENV_REFERENCE] };
    case "list": {
      const array: Record<string, unknown> = { type: ["array", "null"], items: node(schema.item) };
      if (schema.nonEmpty) array.minItems = 1;
      if (schema.unique) array.uniqueItems = true;
      return schema.single
        ? { anyOf: [node(schema.item), array as JsonObject] }
        : array as JsonObject;
    }
    case "map": {
      const out: Record<string, unknown> = {
        type: ["object", "null"],
        propertyNames: schema.key.json,
        additionalProperties: node(schema.value),
      };
      if (schema.nonEmpty) out.minProperties = 1;
      return out as JsonObject;
    }
    case "obj": {
      const required = Object.entries(schema.fields)
        .filter(([, field]) => field.presence === "required")
        .map(([key]) => key);
      const properties = Object.fromEntries(
        Object.entries(schema.fields).map(([key, field]) => [key, property(field)]),
      );
      const out: Record<string, unknown> = { type: ["object", "null"], properties };
      if (required.length > 0) out.required = required;
      out.additionalProperties = false;
      return out as JsonObject;
    }
    case "union":
      return { anyOf: [node(schema.scalar), node(schema.map)] };
  }
}

/** The JSON Schema document for the config file. */
export function jsonSchema(): JsonObject {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Gatehouse configuration",
    description: "Generated from proxy/config/schema.ts by `deno task schema`; do not edit.",
    ...node(configSchema),
    type: "object",
  };
}

/** The JSON Schema file's text, as committed. */
export function jsonSchemaText(): string {
  return JSON.stringify(jsonSchema(), null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(SCHEMA_FILE, jsonSchemaText());
  await Deno.writeTextFile(REFERENCE_FILE, reference());
  console.log("Wrote config/gatehouse.schema.json and config/REFERENCE.md");
}
