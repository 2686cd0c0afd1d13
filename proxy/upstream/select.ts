/**
 * Load-balancing policies. Each picks one available server not yet tried for this request, or
 * null when none is left. Policies hold only their own bookkeeping; server state lives in
 * UpstreamServer.
 */
import type { Balancing } from "../config/types.ts";
import type { UpstreamServer } from "./server_state.ts";

export interface PickContext {
  /** Client IP, for ip_hash. */
  readonly clientIp: string;
  /** Servers already tried for this request. */
  readonly tried: ReadonlySet<UpstreamServer>;
  readonly now: number;
  /** Consider passively ejected servers too (see ServiceRuntime.pick). */
  readonly ignoreEjection?: boolean;
}

export interface SelectionPolicy {
  pick(servers: readonly UpstreamServer[], ctx: PickContext): UpstreamServer | null;
}

export function createPolicy(kind: Balancing): SelectionPolicy {
  switch (kind) {
    case "round_robin":
      return new WeightedRoundRobin();
    case "least_requests":
      return new LeastRequests();
    case "random":
      return { pick: (servers, ctx) => weightedRandom(candidates(servers, ctx)) };
    case "ip_hash":
      return { pick: (servers, ctx) => rendezvous(candidates(servers, ctx), ctx.clientIp) };
  }
}

function candidates(servers: readonly UpstreamServer[], ctx: PickContext): UpstreamServer[] {
  const out: UpstreamServer[] = [];
  for (const s of servers) {
    if (!ctx.tried.has(s) && s.available(ctx.now, ctx.ignoreEjection)) out.push(s);
  }
  return out;
}

/**
 * Smooth weighted round robin (as nginx): each pick adds every weight to its server's counter
 * and takes the largest, which spreads a heavier server's turns evenly instead of in bursts.
 */
class WeightedRoundRobin implements SelectionPolicy {
  readonly #current = new Map<UpstreamServer, number>();

  pick(servers: readonly UpstreamServer[], ctx: PickContext): UpstreamServer | null {
    let best: UpstreamServer | null = null;
    let bestValue = -Infinity;
    let total = 0;
    for (const s of servers) {
      if (ctx.tried.has(s) || !s.available(ctx.now, ctx.ignoreEjection)) continue;
      const value = (this.#current.get(s) ?? 0) + s.weight;
      this.#current.set(s, value);
      total += s.weight;
      if (value > bestValue) {
        bestValue = value;
        best = s;
      }
    }
    if (best !== null) this.#current.set(best, bestValue - total);
    return best;
  }
}

/** Power of two random choices: the less loaded (in-flight per weight) of two random servers. */
class LeastRequests implements SelectionPolicy {
  pick(servers: readonly UpstreamServer[], ctx: PickContext): UpstreamServer | null {
    const list = candidates(servers, ctx);
    if (list.length <= 1) return list[0] ?? null;
    const a = weightedRandom(list)!;
    let b = weightedRandom(list)!;
    for (let i = 0; b === a && i < 4; i++) b = weightedRandom(list)!;
    return a.inflight / a.weight <= b.inflight / b.weight ? a : b;
  }
}

function weightedRandom(list: readonly UpstreamServer[]): UpstreamServer | null {
  if (list.length === 0) return null;
  let total = 0;
  for (const s of list) total += s.weight;
  let r = Math.random() * total;
  for (const s of list) {
    r -= s.weight;
    if (r < 0) return s;
  }
  return list[list.length - 1];
}

/**
 * Weighted rendezvous hashing: every (client, server) pair gets a score and the highest wins,
 * so when a server leaves only its own clients move.
 */
function rendezvous(list: readonly UpstreamServer[], key: string): UpstreamServer | null {
  let best: UpstreamServer | null = null;
  let bestScore = -Infinity;
  for (const s of list) {
    const h = (fnv1a(key + "\u0000" + s.url) + 0.5) / 4294967296;
    const score = -s.weight / Math.log(h);
    if (score > bestScore) {
      bestScore = score;
      best = s;
    }
  }
  return best;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so that similar keys spread over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
