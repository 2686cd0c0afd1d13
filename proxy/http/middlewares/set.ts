/**
 * The built middlewares of the running config, and the chain each route runs on each
 * entrypoint (the entrypoint's middlewares, then the route's own; a name both list runs once,
 * where the entrypoint puts it). A reload builds a new generation that keeps every middleware
 * whose name and definition did not change (its state, such as rate-limit buckets, survives);
 * once the reload is applied the ones left behind are closed, and if it fails the new ones are.
 *
 * Tested by set_test.ts.
 */
import type { Config } from "../../config/types.ts";
import type { Phase } from "../context.ts";
import { buildMiddleware } from "./build.ts";
import { type Built, identity, type MiddlewareDeps, type SharedServices } from "./middleware.ts";
import { PasswordVerifier } from "./passwords.ts";

const NONE: readonly Phase[] = Object.freeze([]);

/** The middlewares of one config: built instances, and the chains. */
export interface Generation {
  /** The chain of `route` on `entrypoint` (empty when none). */
  readonly chain: (entrypoint: string, route: string) => readonly Phase[];
  readonly built: ReadonlyMap<string, Built>;
}

export class MiddlewareSet {
  readonly #deps: SharedServices;
  #live: ReadonlyMap<string, Built> = new Map();

  constructor(deps: MiddlewareDeps) {
    this.#deps = { ...deps, passwords: new PasswordVerifier() };
  }

  /** Builds the middlewares of `config`, reusing the live ones whose definition is unchanged. */
  build(config: Config): Generation {
    const built = new Map<string, Built>();
    const byName = new Map<string, Phase>();
    for (const def of Object.values(config.middlewares)) {
      const key = identity(def);
      const instance = this.#live.get(key) ?? built.get(key) ?? buildMiddleware(def, this.#deps);
      built.set(key, instance);
      byName.set(def.name, instance.phase);
    }
    const chains = new Map<string, Map<string, readonly Phase[]>>();
    for (const ep of Object.values(config.entrypoints)) {
      if (ep.protocol !== "http") continue;
      const perRoute = new Map<string, readonly Phase[]>();
      for (const route of config.routes) {
        if (route.entrypoints.length > 0 && !route.entrypoints.includes(ep.name)) continue;
        const names = [...new Set([...ep.middlewares, ...route.middlewares])];
        if (names.length > 0) {
          perRoute.set(
            route.name,
            Object.freeze(names.map((n) => byName.get(n)!)),
          );
        }
      }
      chains.set(ep.name, perRoute);
    }
    return {
      built,
      chain: (entrypoint, route) => chains.get(entrypoint)?.get(route) ?? NONE,
    };
  }

  /** `next` is in force: closes the middlewares it did not keep. */
  commit(next: Generation): void {
    for (const [key, b] of this.#live) if (!next.built.has(key)) b.close?.();
    this.#live = next.built;
  }

  /** `next` was not applied: closes what it built anew. */
  discard(next: Generation): void {
    for (const [key, b] of next.built) if (!this.#live.has(key)) b.close?.();
  }

  /** Closes every live middleware (shutdown). */
  close(): void {
    for (const b of this.#live.values()) b.close?.();
    this.#live = new Map();
    this.#deps.passwords.close();
  }
}
