/**
 * Where things are in the YAML file: positions by path, and the path of each decoded object.
 *
 * Tested by load_test.ts and errors_test.ts (every error names file:line:column).
 *
 * @module
 */
import { type ConfigError, formatPath, type Segment } from "./errors.ts";
import type { LabelPos, SourcePos } from "./types.ts";

/** A line and column, 1-based. */
export interface LineCol {
  readonly line: number;
  readonly col: number;
}

/** Which part of a map entry a message points at. */
export type Anchor = "value" | "key";

/**
 * An item a provider put into the document (config/fragments.ts): the container, and the label
 * behind each path inside the item (`""` the item itself, `match.host`, `servers`).
 */
export interface Origin {
  readonly container: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Every path inside the item that holds a value (`""`, `match`, `match.host`, ...). */
  readonly written: ReadonlySet<string>;
}

/** Positions of everything the file wrote, looked up by YAML path. */
export class Locator {
  readonly #values = new Map<string, LineCol>();
  readonly #keys = new Map<string, LineCol>();
  readonly #paths = new WeakMap<object, readonly Segment[]>();
  readonly #origins = new Map<string, Origin>();

  /** `file` is the config path as given, used in every position. */
  constructor(readonly file: string) {}

  /** Records where the value (and, for map entries, the key) at `path` was written. */
  note(path: readonly Segment[], value: LineCol | undefined, key?: LineCol): void {
    const id = formatPath(path);
    if (value) this.#values.set(id, value);
    if (key) this.#keys.set(id, key);
  }

  /** Remembers that the decoded object `value` came from `path`. */
  bind(value: object, path: readonly Segment[]): void {
    this.#paths.set(value, path);
  }

  /** The path a decoded object came from ([] if unknown). */
  pathOf(value: object): readonly Segment[] {
    return this.#paths.get(value) ?? [];
  }

  /** Records that the item at `path` came from a provider, not from the file. */
  addOrigin(path: readonly Segment[], origin: Origin): void {
    this.#origins.set(formatPath(path), origin);
  }

  /** Whether the file (or a provider) wrote something at `path` (defaults do not count). */
  written(path: readonly Segment[]): boolean {
    const id = formatPath(path);
    return this.#values.has(id) || this.#keys.has(id) || this.#originOf(path)?.written === true;
  }

  /**
   * Position of the value (or key) at `path`, else of its nearest written ancestor, else 1:1;
   * for an item from a provider, the label behind it.
   */
  pos(path: readonly Segment[], anchor: Anchor = "value"): SourcePos {
    const label = this.#labelOf(path);
    if (label) return { file: this.file, line: 0, col: 0, label };
    for (let n = path.length; n >= 0; n--) {
      const id = formatPath(path.slice(0, n));
      const first = anchor === "key" ? this.#keys : this.#values;
      const second = anchor === "key" ? this.#values : this.#keys;
      const found = first.get(id) ?? second.get(id);
      if (found) return { file: this.file, ...found };
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** An error about the value (or key) at `path`. */
  error(path: readonly Segment[], message: string, anchor: Anchor = "value"): ConfigError {
    const { line, col, label } = this.pos(path, anchor);
    const error = { file: this.file, line, col, path: formatPath(path), message };
    return label ? { ...error, label } : error;
  }

  /** The container label behind `path`, when a provider's item holds it. */
  #labelOf(path: readonly Segment[]): LabelPos | undefined {
    return this.#originOf(path)?.label;
  }

  /** The provider's item holding `path`: the label behind it, and whether it has a value. */
  #originOf(path: readonly Segment[]): { label: LabelPos; written: boolean } | undefined {
    if (this.#origins.size === 0) return undefined;
    for (let n = path.length; n > 0; n--) {
      const origin = this.#origins.get(formatPath(path.slice(0, n)));
      if (origin === undefined) continue;
      const inside = path.slice(n);
      const written = origin.written.has(formatPath(inside));
      for (let m = inside.length; m >= 0; m--) {
        const label = origin.labels[formatPath(inside.slice(0, m))];
        if (label !== undefined) return { label: { container: origin.container, label }, written };
      }
      return { label: { container: origin.container, label: origin.labels[""] ?? "" }, written };
    }
    return undefined;
  }
}
