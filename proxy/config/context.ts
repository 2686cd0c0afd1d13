/**
 * State shared while resolving a decoded config: errors, files read, and where things are.
 *
 * Tested by schema_test.ts, validate_test.ts and load_test.ts.
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { type ConfigError, quote, type Segment } from "./errors.ts";
import type { Anchor, Locator } from "./locator.ts";

/** Errors, warnings and files collected while resolving, plus position lookups. */
export class Context {
  readonly errors: ConfigError[] = [];
  /** Problems that do not stop the file from working (a route that can never match). */
  readonly warnings: ConfigError[] = [];
  /** Absolute paths of every file the config read, in first-read order. */
  readonly files = new Set<string>();

  /** `dir` is the config file's directory: relative file paths start there. */
  constructor(readonly locator: Locator, readonly dir: string) {}

  /** Records an error about the value (or key) at `path`. */
  error(path: readonly Segment[], message: string, anchor: Anchor = "value"): void {
    this.errors.push(this.locator.error(path, message, anchor));
  }

  /** Records a warning about the value at `path`. */
  warn(path: readonly Segment[], message: string): void {
    this.warnings.push(this.locator.error(path, message, "key"));
  }

  /** The YAML path of a decoded object, extended by `more`. */
  path(value: object, ...more: Segment[]): Segment[] {
    return [...this.locator.pathOf(value), ...more];
  }

  /** Whether the file wrote something at `path`. */
  written(path: readonly Segment[]): boolean {
    return this.locator.written(path);
  }

  /** The absolute path of `file`, relative to the config file's directory. */
  absolute(file: string): string {
    return resolve(this.dir, file);
  }

  /**
   * Reads a file named at `path` in the YAML (relative to the config file), recording it in
   * `files`; on failure records an error saying what to do and returns undefined.
   */
  async read(path: readonly Segment[], file: string, what: string): Promise<string | undefined> {
    const absolute = this.absolute(file);
    this.files.add(absolute);
    try {
      return await Deno.readTextFile(absolute);
    } catch (error) {
      this.error(path, `Cannot read ${what} ${quote(absolute)}: ${readProblem(error, absolute)}`);
      return undefined;
    }
  }
}

/** Why a file could not be read, and what to do about it. */
export function readProblem(error: unknown, file: string): string {
  if (error instanceof Deno.errors.NotFound) {
    const fix = basename(file).startsWith("localhost")
      ? `; run "deno task certs" to create it`
      : "; check the path (relative paths start at the config file's directory)";
    return `file not found${fix}`;
  }
  if (error instanceof Deno.errors.NotCapable) return "no read permission (run with --allow-read)";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory, not a file";
  return error instanceof Error ? error.message : String(error);
}
