/**
 * Generates config/REFERENCE.md from schema.ts: one table per section of the YAML file.
 *
 * Tested by json_schema_test.ts and shipped_test.ts (REFERENCE.md stays generated).
 *
 * @module
 */
import type { Field, Json, Node, ObjNode } from "./dsl.ts";
import { configSchema } from "./schema.ts";

const INTRO = `# Gatehouse configuration reference

Generated from \`proxy/config/schema.ts\` by \`deno task schema\`; do not edit by hand.

Start from [gatehouse.yaml](gatehouse.yaml) or the fully commented [example.yaml](example.yaml).

Value syntaxes:

- **duration**: \`"500ms"\`, \`"30s"\`, \`"5m"\`, \`"1h"\`, \`"1m30s"\`, or seconds (\`2.5\`); at most 24h.
- **duration or off**: a duration, or \`0\` / \`"off"\` for no limit.
- **size**: \`"512B"\`, \`"16KiB"\`, \`"10MiB"\`, \`"1GiB"\`, \`"10MB"\` (powers of 1000), or bytes.
- **size or off**: a size, or \`0\` / \`"off"\` for no limit.
- **address**: \`":8080"\` (all interfaces), \`"127.0.0.1:9901"\`, \`"[::1]:8443"\`, \`"localhost:8080"\`.
- **CIDR**: \`"10.0.0.0/8"\`, \`"fd00::/8"\`, or one address: \`"127.0.0.1"\`, \`"::1"\`.
- **host**: \`"app.example.com"\`, or \`"*.example.com"\` for any name one label deeper.
- File paths are relative to the config file's directory.
`;

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", "\\n");
}

function inline(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  if (typeof value === "object" && value !== null) return "{}";
  return JSON.stringify(value);
}

function typeName(schema: Node): string {
  switch (schema.kind) {
    case "scalar":
      return schema.type;
    case "list":
      return schema.single
        ? `${typeName(schema.item)} or list`
        : `list of ${typeName(schema.item)}`;
    case "map":
      return `map of ${typeName(schema.value)}`;
    case "obj":
      return schema.noun;
    case "union":
      return `${schema.scalar.type} or map`;
  }
}

function defaultText(field: Field): string {
  if (field.presence === "required") return "required";
  if (field.inherit !== undefined) return `\`${field.inherit}\``;
  if (field.defaultText !== undefined) return field.defaultText;
  if (field.default === undefined) return "none";
  if (field.schema.kind === "obj" || field.schema.kind === "union") return "see below";
  return `\`${cell(inline(field.default))}\``;
}

/** The object a field leads to (directly, or as list item, map value or union branch). */
function nested(schema: Node, path: string): [string, ObjNode<unknown>] | undefined {
  if (schema.kind === "obj") return [path, schema];
  if (schema.kind === "union") return [path, schema.map];
  if (schema.kind === "list") return nested(schema.item, `${path}[]`);
  if (schema.kind === "map") return nested(schema.value, `${path}.${schema.placeholder}`);
  return undefined;
}

/** A Markdown table padded the way `deno fmt` pads it. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(3, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)];
}

/** A table for the object at `path` ("" for the top level), then one for each object in it. */
function section(path: string, schema: ObjNode<unknown>, out: string[]): void {
  const rows = [["Key", "Type", "Default", "Description"]];
  const later: [string, ObjNode<unknown>][] = [];
  for (const [key, field] of Object.entries(schema.fields)) {
    rows.push([`\`${key}\``, cell(typeName(field.schema)), defaultText(field), cell(field.doc)]);
    const inner = nested(field.schema, path === "" ? key : `${path}.${key}`);
    if (inner) later.push(inner);
  }
  out.push(`## ${path === "" ? "Top level" : `\`${path}\``}`, "", ...table(rows), "");
  for (const [innerPath, obj] of later) section(innerPath, obj, out);
}

/** The reference's Markdown text, as committed. */
export function reference(): string {
  const out = [INTRO];
  section("", configSchema, out);
  return out.join("\n");
}
