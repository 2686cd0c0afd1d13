/**
 * Checks a parsed YAML document against a schema (dsl.ts) and decodes it: values parsed,
 * defaults applied, every error collected. An invalid value counts as absent, so that checks
 * further on see a consistent (if incomplete) tree.
 *
 * @module
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Pair } from "yaml";
import type {
  Field,
  ListNode,
  MapNode,
  Node,
  ObjNode,
  ScalarNode,
  ScalarValue,
  UnionNode,
} from "./dsl.ts";
import { describe } from "./dsl.ts";
import { type ConfigError, quote, type Segment, suggest } from "./errors.ts";
import { type LineCol, Locator } from "./locator.ts";

const INVALID = Symbol("invalid");
type Decoded = unknown;

/** What validation found: the decoded value (absent when the root itself is invalid). */
export interface Validation<T> {
  readonly value: T | undefined;
  readonly errors: ConfigError[];
  readonly locator: Locator;
}

/** A YAML node, a pair's key, or nothing at all. */
type YamlValue = unknown;

interface Inherited {
  readonly target: Record<string, unknown>;
  readonly key: string;
  readonly from: string;
}

class Walker {
  readonly errors: ConfigError[] = [];
  readonly inherited: Inherited[] = [];

  constructor(
    readonly doc: Document,
    readonly lines: LineCounter,
    readonly locator: Locator,
  ) {}

  at(node: YamlValue): LineCol | undefined {
    const range = (node as { range?: [number, number, number] | null } | null)?.range;
    return range ? this.lines.linePos(range[0]) : undefined;
  }

  fail(path: readonly Segment[], message: string): typeof INVALID {
    this.errors.push(this.locator.error(path, message));
    return INVALID;
  }

  /** An error at an explicit position (a key), falling back to the path's position. */
  failAt(path: readonly Segment[], message: string, where: LineCol | undefined): void {
    const error = this.locator.error(path, message);
    this.errors.push(where ? { ...error, ...where } : error);
  }

  /** Decodes `node` (a YAML node, possibly an alias) against `schema` at `path`. */
  decode(input: YamlValue, schema: Node, path: readonly Segment[], key?: YamlValue): Decoded {
    const node = isAlias(input) ? input.resolve(this.doc) : input ?? this.doc.createNode(null);
    this.locator.note(path, this.at(input), key === undefined ? undefined : this.at(key));
    if (node === undefined) return this.fail(path, `unknown alias ${quote(String(input))}`);
    switch (schema.kind) {
      case "scalar":
        return this.scalar(node, schema, path);
      case "list":
        return this.list(node, schema, path);
      case "map":
        return this.map(node, schema, path);
      case "obj":
        return this.obj(node, schema, path);
      case "union":
        return this.union(node, schema, path);
    }
  }

  shapeError(node: YamlValue, expected: string, path: readonly Segment[]): typeof INVALID {
    const input = this.scalarInput(node);
    const found = isMap(node)
      ? "a map"
      : isSeq(node)
      ? "a list"
      : input
      ? describe(...input)
      : "an unsupported value";
    return this.fail(path, `expected ${expected}, found ${found}`);
  }

  isEmpty(node: YamlValue): boolean {
    return isScalar(node) && node.value === null;
  }

  scalarInput(node: YamlValue): [ScalarValue, string] | undefined {
    if (!isScalar(node)) return undefined;
    const value = node.value;
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
      const source = typeof value === "string" ? value : node.source ?? String(value);
      return [value as ScalarValue, source];
    }
    return undefined;
  }

  scalar(node: YamlValue, schema: ScalarNode<unknown>, path: readonly Segment[]): Decoded {
    const input = this.scalarInput(node);
    if (!input) return this.shapeError(node, schema.expected, path);
    const parsed = schema.decode(...input);
    return parsed.ok ? parsed.value : this.fail(path, parsed.message);
  }

  list(node: YamlValue, schema: ListNode<unknown>, path: readonly Segment[]): Decoded {
    let items: { node: YamlValue; path: readonly Segment[] }[];
    if (this.isEmpty(node)) items = [];
    else if (isSeq(node)) items = node.items.map((item, i) => ({ node: item, path: [...path, i] }));
    else if (schema.single && isScalar(node)) items = [{ node, path }];
    else return this.shapeError(node, schema.expected, path);
    if (items.length === 0 && schema.nonEmpty) return this.fail(path, schema.nonEmpty);
    const out: unknown[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const value = this.decode(item.node, schema.item, item.path);
      if (value === INVALID) continue;
      if (schema.unique) {
        const id = JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? [...v] : v));
        if (seen.has(id)) {
          const [raw, source] = this.scalarInput(item.node) ?? [null, ""];
          this.fail(item.path, `${describe(raw, source)} is listed twice`);
          continue;
        }
        seen.add(id);
      }
      out.push(value);
    }
    this.locator.bind(out, path);
    return out;
  }

  /** The pairs of a map node, each key as text (normalised), with bad and duplicate keys reported. */
  pairs(
    node: YamlValue,
    path: readonly Segment[],
    normalise: (key: string, where: LineCol | undefined) => string | undefined,
  ) {
    const out: { key: string; pair: Pair }[] = [];
    const first = new Map<string, LineCol | undefined>();
    if (!isMap(node)) return out;
    for (const pair of node.items as Pair[]) {
      const input = this.scalarInput(pair.key);
      const where = this.at(pair.key);
      if (!input || input[0] === null) {
        this.failAt(path, "map keys must be plain strings", where);
        continue;
      }
      const key = normalise(input[1], where);
      if (key === undefined) continue;
      if (first.has(key)) {
        const was = first.get(key);
        const hint = was ? ` (first at ${was.line}:${was.col})` : "";
        this.failAt(path, `duplicate key ${quote(input[1])}${hint}`, where);
        continue;
      }
      first.set(key, where);
      out.push({ key, pair });
    }
    return out;
  }

  map(node: YamlValue, schema: MapNode<unknown>, path: readonly Segment[]): Decoded {
    if (!this.isEmpty(node) && !isMap(node)) return this.shapeError(node, schema.expected, path);
    const size = isMap(node) ? node.items.length : 0;
    if (size === 0 && schema.nonEmpty) return this.fail(path, schema.nonEmpty);
    const pairs = this.pairs(node, path, (written, where) => {
      const parsed = schema.key.decode(written, written);
      if (parsed.ok) return parsed.value;
      this.failAt([...path, written], parsed.message, where);
      return undefined;
    });
    const out = new Map<string, unknown>();
    for (const { key, pair } of pairs) {
      const value = this.decode(pair.value, schema.value, [...path, key], pair.key);
      if (value !== INVALID) out.set(key, value);
    }
    this.locator.bind(out, path);
    return out;
  }

  obj(node: YamlValue, schema: ObjNode<unknown>, path: readonly Segment[]): Decoded {
    if (!this.isEmpty(node) && !isMap(node)) return this.shapeError(node, schema.expected, path);
    const known = Object.keys(schema.fields);
    const given = new Map<string, Pair>();
    const guessed = new Set<string>();
    for (const { key, pair } of this.pairs(node, path, (key) => key)) {
      if (Object.hasOwn(schema.fields, key)) given.set(key, pair);
      else {
        const guess = suggest(key, known);
        if (guess !== undefined) guessed.add(guess);
        const hint = guess === undefined ? "" : ` (did you mean ${quote(guess)}?)`;
        this.failAt(path, `unknown key ${quote(key)}${hint}`, this.at(pair.key));
      }
    }
    const out: Record<string, unknown> = {};
    let valid = true;
    for (const [key, field] of Object.entries(schema.fields)) {
      const pair = given.get(key);
      const value = pair
        ? this.decode(pair.value, field.schema, [...path, key], pair.key)
        : INVALID;
      if (value !== INVALID) out[key] = value;
      else if (!this.absent(out, key, field, [...path, key], !pair && !guessed.has(key))) {
        valid = false;
      }
    }
    this.locator.bind(out, path);
    return valid ? out : INVALID;
  }

  /**
   * Fills in an absent (or invalid) key; false when the object cannot be used without it.
   * `report` is false when the key was given but invalid, or an unknown key was a typo of it.
   */
  absent(
    out: Record<string, unknown>,
    key: string,
    field: Field,
    path: readonly Segment[],
    report: boolean,
  ) {
    if (field.presence === "required") {
      if (report) this.fail(path.slice(0, -1), `missing required key ${quote(key)}`);
      return false;
    }
    out[key] = undefined;
    if (field.inherit !== undefined) this.inherited.push({ target: out, key, from: field.inherit });
    else if (field.default !== undefined) {
      out[key] = this.decode(this.doc.createNode(field.default), field.schema, path);
    }
    return true;
  }

  union(node: YamlValue, schema: UnionNode<unknown>, path: readonly Segment[]): Decoded {
    if (isMap(node) || this.isEmpty(node)) return this.obj(node, schema.map, path);
    if (isScalar(node)) return this.scalar(node, schema.scalar, path);
    return this.shapeError(node, schema.expected, path);
  }

  /** Copies inherited defaults from the decoded root ("timeouts.body_idle"), when it has them. */
  inherit(root: unknown): void {
    for (const { target, key, from } of this.inherited) {
      let value = root;
      for (const step of from.split(".")) {
        value = (value as Record<string, unknown> | undefined)?.[step];
      }
      target[key] = value;
    }
  }
}

/**
 * Validates and decodes `doc` against `schema`; `file` names the source in errors. `locator`
 * may already know the items a provider put into `doc` (config/fragments.ts).
 */
export function validate<T>(
  schema: Node<T>,
  doc: Document,
  lines: LineCounter,
  file: string,
  locator: Locator = new Locator(file),
): Validation<T> {
  const walker = new Walker(doc, lines, locator);
  const value = walker.decode(doc.contents, schema, []);
  if (value === INVALID) return { value: undefined, errors: walker.errors, locator };
  walker.inherit(value);
  return { value: value as T, errors: walker.errors, locator };
}
