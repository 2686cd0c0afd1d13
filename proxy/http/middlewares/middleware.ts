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
  /** Nothing yet: kinds that need services from the runtime add them here. */
  readonly _?: never;
}

/** Builds one kind of middleware. */
export type Builder<M extends Middleware> = (def: M, deps: MiddlewareDeps) => Built;

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
