/**
 * Config errors: what went wrong, where in the file (or which container label), and how to say
 * it.
 *
 * @module
 */
import type { LabelPos, SourcePos } from "./types.ts";

/** One problem found in a config file, or in the container labels merged into it. */
export interface ConfigError {
  /** The config file path as given. */
  readonly file: string;
  /** 1-based; 0 when the problem is the file as a whole (it cannot be read) or a label's. */
  readonly line: number;
  readonly col: number;
  /** YAML path like `routes[2].service`; "" for the document itself. */
  readonly path: string;
  readonly message: string;
  /** Set when the problem is in a container's labels: then it names them instead of the file. */
  readonly label?: LabelPos;
}

/** One step of a YAML path: a map key or a list index. */
export type Segment = string | number;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Formats a path as `a.b[2].c`, quoting keys that are not identifier-like: `set["x y"]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * `config/gatehouse.yaml:14:7 routes[2].service: unknown service "api" (known: web, app)`, or
 * for labels `container "shop-app-1" label "gatehouse.http.routes.shop.host": ...`.
 */
export function formatConfigError(e: ConfigError): string {
  if (e.label) return `${formatLabelPos(e.label)}: ${e.message}`;
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : `${e.file}:`;
  return e.path === "" ? `${where} ${e.message}` : `${where} ${e.path}: ${e.message}`;
}

/** `config/gatehouse.yaml:40:5 routes[3]: warning: route "myapp" can never match: ...`. */
export function formatConfigWarning(e: ConfigError): string {
  return formatConfigError({ ...e, message: `warning: ${e.message}` });
}

/** `container "shop-app-1" label "gatehouse.http.routes.shop.host"`. */
export function formatLabelPos(pos: LabelPos): string {
  return `container ${quote(pos.container)} label ${quote(pos.label)}`;
}

/** Where an item was defined, for messages about another one: `line 34`, `container "x"`. */
export function describePos(pos: SourcePos): string {
  return pos.label ? `container ${quote(pos.label.container)}` : `line ${pos.line}`;
}

/** Quotes a value for a message: `"api"`. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** `"a", "b"` for messages listing what is allowed. */
export function quoteList(values: readonly string[]): string {
  return values.map(quote).join(", ");
}

/** Optimal string alignment distance: edits, with swapping two neighbours counted as one. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[i].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2][j - 2] + 1);
      }
      rows[i].push(best);
    }
  }
  return rows[a.length][b.length];
}

/** The candidate `word` was most likely meant to be, if one is close enough. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const allowed = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "service"?)` or "". */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const guess = suggest(word, candidates);
  return guess === undefined ? "" : ` (did you mean ${quote(guess)}?)`;
}
