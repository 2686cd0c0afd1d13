/**
 * Where things are in the YAML file: positions by path, and the path of each decoded object.
 *
 * Tested by load_test.ts and errors_test.ts (every error names file:line:column).
 *
 * @module
 */
import { type ConfigError, formatPath, type Segment } from "./errors.ts";
import type { SourcePos } from "./types.ts";

/** A line and column, 1-based. */
export interface LineCol {
  readonly line: number;
  readonly col: number;
}

/** Which part of a map entry a message points at. */
export type Anchor = "value" | "key";

/** Positions of everything the file wrote, looked up by YAML path. */
export class Locator {
  readonly #values = new Map<string, LineCol>();
  readonly #keys = new Map<string, LineCol>();
  readonly #paths = new WeakMap<object, readonly Segment[]>();

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

  /** Whether the file wrote something at `path` (defaults do not count). */
  written(path: readonly Segment[]): boolean {
    const id = formatPath(path);
    return this.#values.has(id) || this.#keys.has(id);
  }

  /** Position of the value (or key) at `path`, else of its nearest written ancestor, else 1:1. */
  pos(path: readonly Segment[], anchor: Anchor = "value"): SourcePos {
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
    const { line, col } = this.pos(path, anchor);
    return { file: this.file, line, col, path: formatPath(path), message };
  }
}
