/**
 * Phase "middlewares": the route's chain of named middlewares (its entrypoint's first, then its
 * own; http/middlewares/), each entered as a phase of its own, so that one may answer (a
 * refusal, a redirect, a preflight) and the response steps of those that ran unwind in reverse.
 *
 * Tested by the http/middlewares/ tests.
 */
import type { Answer, Phase, RequestContext } from "../context.ts";

export const middlewares: Phase = {
  name: "middlewares",
  request(ctx) {
    const chain = ctx.snapshot.middlewares(ctx.entrypoint, ctx.route!.name);
    for (let i = 0; i < chain.length; i++) {
      const step = ctx.enter(chain[i]);
      if (step instanceof Promise) return rest(ctx, chain, i, step);
      if (step !== undefined) return step;
    }
    return undefined;
  },
};

/** The chain from the middleware at `i`, whose request step is asynchronous, on. */
async function rest(
  ctx: RequestContext,
  chain: readonly Phase[],
  i: number,
  pending: Promise<Answer | undefined>,
): Promise<Answer | undefined> {
  const answer = await pending;
  if (answer !== undefined) return answer;
  for (let j = i + 1; j < chain.length; j++) {
    const step = ctx.enter(chain[j]);
    const next = step instanceof Promise ? await step : step;
    if (next !== undefined) return next;
  }
  return undefined;
}
