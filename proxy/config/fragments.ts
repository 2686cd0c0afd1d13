/**
 * Config from other sources than the file: routes and services that a provider (the Docker
 * labels of proxy/docker/) hands over as fragments of YAML-shaped data. They are put into the
 * parsed file before validation, so the merged whole goes through the same schema, the same
 * cross checks and the same freeze; an error inside a fragment names its container and label
 * instead of a file position (the Locator's origins), and load.ts leaves out every fragment
 * that has one, applying the rest.
 *
 * Tested by fragments_test.ts.
 *
 * @module
 */
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { type ConfigError, formatPath, quote } from "./errors.ts";
import type { Locator } from "./locator.ts";

/** Sections of the file a fragment may add to. */
export type FragmentSection = "routes" | "tcp_routes" | "udp_routes" | "services";

/** One route (an item of a list section) or one service (a key of `services`). */
export interface FragmentItem {
  readonly section: FragmentSection;
  /** The key under `services`; unused for routes. */
  readonly key?: string;
  /** The item as the file would write it (snake_case keys, plain values). */
  readonly value: Readonly<Record<string, unknown>>;
  /**
   * The label behind each path inside `value`, written like a YAML path (`match.host`,
   * `servers`); `""` is the item's own. A path without one uses its nearest ancestor's.
   */
  readonly labels: Readonly<Record<string, string>>;
}

/** What one container (or one group of replicas) adds to the config. */
export interface ConfigFragment {
  /** The container named in messages; unique among the fragments of one load. */
  readonly container: string;
  readonly items: readonly FragmentItem[];
  /** Problems found before merging (unknown label keys, no port): the fragment is left out. */
  readonly errors: readonly ConfigError[];
  /** Problems that do not stop it (a Traefik label that was not translated). */
  readonly warnings: readonly ConfigError[];
}

/** The pair of `map` whose key is the plain string `key`. */
function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return (map.items as Pair[]).find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/** The list or map `section` of the document, created when absent; undefined when unusable. */
function sectionNode(doc: Document, section: FragmentSection): YAMLSeq | YAMLMap | undefined {
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const pair = pairOf(root, section);
  const wantMap = section === "services";
  const node = pair?.value;
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
    const created = doc.createNode(wantMap ? {} : []) as YAMLSeq | YAMLMap;
    if (pair) pair.value = created;
    else root.add(doc.createPair(section, created));
    return created;
  }
  if (wantMap ? isMap(node) : isSeq(node)) return node as YAMLSeq | YAMLMap;
  return undefined;
}

/**
 * Puts every item of `fragments` into `doc` (after the file's own items, in fragment order;
 * none of a fragment that has errors of its own) and records its origin in `locator`. Returns the fragments' own errors and warnings, plus an error
 * for each service whose name the file or an earlier fragment already took (that item is not
 * added: a container never silently replaces a service).
 */
export function insertFragments(
  doc: Document,
  lines: LineCounter,
  fragments: readonly ConfigFragment[],
  locator: Locator,
): { errors: ConfigError[]; warnings: ConfigError[] } {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const owners = new Map<string, string>();
  for (const fragment of fragments) {
    errors.push(...fragment.errors);
    warnings.push(...fragment.warnings);
    // Left out anyway: its items would only add errors that follow from the first ones.
    if (fragment.errors.length > 0) continue;
    for (const item of fragment.items) {
      const node = sectionNode(doc, item.section);
      if (node === undefined) continue;
      const written = new Set(valuePaths(item.value));
      const origin = { container: fragment.container, labels: item.labels, written };
      const value = doc.createNode(item.value, { aliasDuplicateObjects: false });
      if (isMap(node)) {
        const key = item.key ?? "";
        const path = [item.section, key];
        const taken = pairOf(node, key);
        if (taken) {
          const other = owners.get(key);
          const at = lines.linePos((taken.key as { range?: number[] }).range?.[0] ?? 0);
          const where = other === undefined
            ? `in ${locator.file}:${at.line}:${at.col}`
            : `by container ${quote(other)}`;
          const message = `service ${quote(key)} is already defined ${where}: give this one ` +
            `another name (a container never replaces a service)`;
          errors.push({
            file: locator.file,
            line: 0,
            col: 0,
            path: formatPath(path),
            message,
            label: { container: fragment.container, label: item.labels[""] ?? "" },
          });
          continue;
        }
        node.add(doc.createPair(key, value));
        owners.set(key, fragment.container);
        locator.addOrigin(path, origin);
      } else {
        node.add(value);
        locator.addOrigin([item.section, node.items.length - 1], origin);
      }
    }
  }
  return { errors, warnings };
}

/** The paths of every value inside `value`, formatted, itself (`""`) first. */
function valuePaths(value: unknown, path: (string | number)[] = []): string[] {
  const out = [formatPath(path)];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...valuePaths(v, [...path, i])));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...valuePaths(v, [...path, k]));
  }
  return out;
}

/** The fragments, minus those named by the `label` of any of `errors`. */
export function withoutFailed(
  fragments: readonly ConfigFragment[],
  errors: readonly ConfigError[],
): ConfigFragment[] {
  const failed = new Set(errors.flatMap((e) => e.label ? [e.label.container] : []));
  return fragments.filter((f) => !failed.has(f.container));
}

/** A stable text of the fragments, for the config's version hash. */
export function fragmentsText(fragments: readonly ConfigFragment[]): string {
  return JSON.stringify(fragments.map((f) => [f.container, f.items]));
}
