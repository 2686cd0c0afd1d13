/**
 * What every middleware kind shares: a middleware is built once from its definition into a
 * `Phase` (http/context.ts) that the "middlewares" phase runs in the route's order, and is kept
 * across reloads while its definition stays the same (set.ts). Refusals go to the error funnel
 * with the middleware's name and a bounded reason, for the access log and
 * `gatehouse_middleware_rejections_total`.
 *
 * Types and helpers; tested through each kind's tests.
 */
import type { Middleware } from "../../config/types.ts";
import type { LimitStore } from "../../net/limit_store.ts";
import type { PasswordVerifier } from "./passwords.ts";
import type { FailureSource } from "../../telemetry/records.ts";
import type { Phase } from "../context.ts";
import { ProxyFailure } from "../funnel.ts";

/** A built middleware: its phase, and what to release when a reload drops it. */
export interface Built {
  readonly phase: Phase;
  /** Stops timers, closes connections and workers the middleware holds. */
  close?(): void;
}

/** What building middlewares needs from outside the HTTP layer. */
export interface MiddlewareDeps {
  /**
   * Rate-limit buckets and in-flight counts: net/limit_store.ts in one isolate,
   * net/shared_limit_store.ts (one store for every worker isolate) with workers.
   */
  readonly limits: LimitStore;
}

/** What the middlewares of one process share, made by set.ts. */
export interface SharedServices extends MiddlewareDeps {
  /** Password checks off the event loop (passwords.ts). */
  readonly passwords: PasswordVerifier;
}

/** A refusal by middleware `name` for `reason` (bounded), answered with `status`. */
export function refusal(
  name: string,
  reason: string,
  status: number,
  message: string,
  options: {
    source?: FailureSource;
    text?: string;
    retryAfter?: number;
    headers?: readonly (readonly [string, string])[];
  } = {},
): ProxyFailure {
  return new ProxyFailure(status, options.source ?? "client", message, {
    text: options.text,
    retryAfter: options.retryAfter,
    headers: options.headers,
    middleware: { name, reason },
  });
}

/** A middleware's name and definition: equal identities share one instance across reloads. */
export function identity(def: Middleware): string {
  const { pos: _pos, ...rest } = def;
  return JSON.stringify(rest, (_k, v) => v instanceof Uint8Array ? Array.from(v) : v);
}

/** A short name for a middleware's state: its name and a digest of its definition. */
export function partition(def: Middleware): string {
  let h = 0x811c9dc5;
  const text = identity(def);
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return `${def.name}#${(h >>> 0).toString(16).padStart(8, "0")}`;
}
