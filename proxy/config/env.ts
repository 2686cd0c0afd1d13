/**
 * Environment references in YAML values: `${NAME}` and `${NAME:-default}`, as docker compose
 * writes them; `$${` stands for a literal `${`. A plain (unquoted) value that is only a
 * reference is read again as YAML after the substitution, so `port: ${PORT:-8443}` is a
 * number; quoted values stay strings.
 */
import { type Document, isPair, isSeq, type LineCounter, parse, Scalar, visit } from "yaml";
import { type ConfigError, formatPath, type Segment } from "./errors.ts";

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces references in every scalar of `doc`; returns an error per unresolvable one. */
export function interpolateEnv(doc: Document, lines: LineCounter, file: string): ConfigError[] {
  const errors: ConfigError[] = [];
  visit(doc, {
    Scalar(_key, node: Scalar, ancestors) {
      if (typeof node.value !== "string" || !node.value.includes("${")) return;
      const where = lines.linePos(node.range?.[0] ?? 0);
      const problems: string[] = [];
      const text = node.value.replace(REFERENCE, (match, name?: string, fallback?: string) => {
        if (name === undefined) return "${";
        const value = readEnv(name, problems);
        if (value !== undefined && value !== "") return value;
        if (fallback !== undefined) return fallback;
        if (value === undefined && problems.length === 0) {
          problems.push(`environment variable ${name} is not set (write \${${name}:-default})`);
        }
        return match;
      });
      const path = formatPath(yamlPath([...ancestors, node]));
      for (const message of problems) {
        errors.push({ file, line: where.line, col: where.col, path, message });
      }
      const plain = node.type === Scalar.PLAIN || node.type === undefined;
      node.value = plain ? plainScalar(text) : text;
    },
  });
  return errors;
}

function readEnv(name: string, problems: string[]): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    problems.push(`Cannot read environment variable ${name}: no permission (run with --allow-env)`);
    return undefined;
  }
}

/**
 * Reads text as a plain YAML value would be read (numbers, booleans), else keeps the text: for
 * substituted values, and for container labels (proxy/docker/labels.ts).
 */
export function plainScalar(text: string): string | number | boolean {
  try {
    const value = parse(text);
    return isScalarValue(value) ? value as string | number | boolean : text;
  } catch {
    return text;
  }
}

function isScalarValue(value: unknown): boolean {
  return value !== null && ["string", "number", "boolean"].includes(typeof value);
}

/** The YAML path of the last node in `chain` (document first). */
function yamlPath(chain: readonly unknown[]): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const node = chain[i];
    const child = chain[i + 1];
    if (isPair(node) && child === node.value) {
      const key = node.key as { value?: unknown } | null;
      out.push(String(key?.value ?? key));
    } else if (isSeq(node)) {
      out.push(node.items.indexOf(child as never));
    }
  }
  return out;
}
