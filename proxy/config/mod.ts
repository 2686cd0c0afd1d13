/**
 * Gatehouse configuration: load the YAML file into a validated, frozen `Config`.
 *
 * ```ts
 * const result = await loadConfig("config/gatehouse.yaml");
 * if (!result.ok) for (const e of result.errors) console.error(formatConfigError(e));
 * ```
 *
 * Re-exports only; tested by load_test.ts.
 *
 * @module
 */
export { loadConfig, loadConfigText, type LoadResult } from "./load.ts";
export { type ConfigError, formatConfigError, formatConfigWarning } from "./errors.ts";
export type { ConfigFragment, FragmentItem } from "./fragments.ts";
export type * from "./types.ts";
