/**
 * A small schema language for the YAML file. One description serves the validator
 * (validate.ts), the JSON Schema generator (json_schema.ts) and the reference (reference.ts).
 *
 * Builders are typed: `Out<typeof schema>` is the decoded value the validator returns.
 *
 * Tested by schema_test.ts, validate_test.ts and json_schema_test.ts.
 *
 * @module
 */
import { quote } from "./errors.ts";

/** JSON values: defaults as written in YAML, and JSON Schema fragments. */
export type Json = null | boolean | number | string | readonly Json[] | JsonObject;
/** A JSON object. */
export type JsonObject = { readonly [key: string]: Json };

/** A YAML scalar's value under the core schema. */
export type ScalarValue = string | number | boolean | null;

/** What decoding a scalar gave: a value or a complete message. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

/** A successful decode. */
export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
/** A failed decode with its message. */
export const fail = (message: string): Parsed<never> => ({ ok: false, message });

/** How a value reads in "found ..." : `"30 sec"`, `5`, `true`, `nothing`. */
export function describe(value: ScalarValue, source: string): string {
  if (value === null) return "nothing";
  if (typeof value === "string") return quote(value);
  return source;
}

/** `expected <what>, found <value>`. */
export function mismatch(expected: string, value: ScalarValue, source: string): Parsed<never> {
  return fail(`expected ${expected}, found ${describe(value, source)}`);
}

interface NodeBase<T> {
  /** Completes "expected ...": `a duration like "30s" or "500ms"`. */
  readonly expected: string;
  /** Phantom: the decoded type. Never set. */
  readonly out?: T;
}

/** A single YAML scalar, decoded by `decode`. */
export interface ScalarNode<T> extends NodeBase<T> {
  readonly kind: "scalar";
  /** Type column of the reference: "duration", "integer 1-1000". */
  readonly type: string;
  readonly json: JsonObject;
  /** `source` is the scalar's text as written (numbers keep their spelling). */
  readonly decode: (value: ScalarValue, source: string) => Parsed<T>;
}

/** A YAML sequence of `item`. */
export interface ListNode<T> extends NodeBase<T> {
  readonly kind: "list";
  readonly item: Node;
  /** A lone scalar counts as a one-item list. */
  readonly single: boolean;
  /** Error message when the list is empty; absent = may be empty. */
  readonly nonEmpty?: string;
  /** Scalar items must be distinct after decoding. */
  readonly unique: boolean;
}

/** A YAML map with free keys (names) and values of one kind. */
export interface MapNode<T> extends NodeBase<T> {
  readonly kind: "map";
  readonly key: ScalarNode<string>;
  readonly value: Node;
  /** How a key shows in the reference: "<name>". */
  readonly placeholder: string;
  readonly nonEmpty?: string;
}

/** A YAML map with a fixed set of keys. */
export interface ObjNode<T> extends NodeBase<T> {
  readonly kind: "obj";
  /** What one is called in the reference's type column: "route". */
  readonly noun: string;
  readonly fields: Readonly<Record<string, Field>>;
}

/** A scalar or a map, told apart by shape (an empty value counts as a map). */
export interface UnionNode<T> extends NodeBase<T> {
  readonly kind: "union";
  readonly scalar: ScalarNode<unknown>;
  readonly map: ObjNode<unknown>;
}

/** Any schema node. */
export type Node<T = unknown> =
  | ScalarNode<T>
  | ListNode<T>
  | MapNode<T>
  | ObjNode<T>
  | UnionNode<T>;

/** The decoded type of a node. */
export type Out<N> = N extends { readonly out?: infer T } ? T : never;

/** How an absent key is treated. */
export type Presence = "required" | "always" | "optional";

/** A key of an `obj`, with its description and default. */
export interface Field<T = unknown, P extends Presence = Presence> {
  readonly schema: Node<T>;
  readonly presence: P;
  /** One line for the reference and JSON Schema. */
  readonly doc: string;
  /** Default as written in YAML (decoded like a written value). */
  readonly default?: Json;
  /** Dotted path of a top-level key whose decoded value is the default. */
  readonly inherit?: string;
  /** Default computed at resolve time, described for people. */
  readonly defaultText?: string;
}

/** Builds a scalar node. */
export function scalar<T>(spec: Omit<ScalarNode<T>, "kind" | "out">): ScalarNode<T> {
  return { kind: "scalar", ...spec };
}

/** A list of `item`. */
export function list<T>(
  item: Node<T>,
  options: { single?: boolean; nonEmpty?: string; unique?: boolean } = {},
): ListNode<readonly T[]> {
  const single = options.single ?? false;
  const expected = single ? `${item.expected} or a list of them` : "a list";
  return {
    kind: "list",
    item,
    single,
    unique: options.unique ?? false,
    nonEmpty: options.nonEmpty,
    expected,
  };
}

/** A map from names (checked by `key`) to `value`; decodes to a `Map` in file order. */
export function map<T>(
  key: ScalarNode<string>,
  value: Node<T>,
  options: { placeholder: string; nonEmpty?: string },
): MapNode<ReadonlyMap<string, T>> {
  return { kind: "map", key, value, expected: "a map", ...options };
}

type ObjOut<F extends Record<string, Field>> = {
  readonly [K in keyof F]: F[K] extends Field<infer T, infer P>
    ? P extends "optional" ? T | undefined
    : T
    : never;
};

/** A map with exactly these keys; unknown keys are errors. `noun` names it in the reference. */
export function obj<F extends Record<string, Field>>(fields: F, noun = "map"): ObjNode<ObjOut<F>> {
  return { kind: "obj", fields, noun, expected: "a map" };
}

/** `scalar` or `map`, by shape. */
export function union<S, M>(scalar: ScalarNode<S>, map: ObjNode<M>): UnionNode<S | M> {
  return { kind: "union", scalar, map, expected: `${scalar.expected} or a map` };
}

/** A key that must be present. */
export function req<T>(schema: Node<T>, doc: string): Field<T, "required"> {
  return { schema, presence: "required", doc };
}

/** A key with a default, written as it would be in YAML. */
export function def<T>(schema: Node<T>, value: Json, doc: string): Field<T, "always"> {
  return { schema, presence: "always", doc, default: value };
}

/** A key whose default is the value of the top-level key at `path` ("timeouts.body_idle"). */
export function inherit<T>(schema: Node<T>, path: string, doc: string): Field<T, "always"> {
  return { schema, presence: "always", doc, inherit: path };
}

/** A key that may be absent (decodes to `undefined`); `defaultText` tells what that means. */
export function opt<T>(schema: Node<T>, doc: string, defaultText?: string): Field<T, "optional"> {
  return { schema, presence: "optional", doc, defaultText };
}
