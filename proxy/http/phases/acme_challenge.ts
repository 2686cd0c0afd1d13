/**
 * Phase "acme_challenge": answers ACME HTTP-01 challenges for tokens Gatehouse's own ACME client
 * is proving, before any redirect; unknown tokens go on like any request.
 *
 * Tested by acme/acme_test.ts (HTTP-01 against Pebble).
 */
import { proxyResponse } from "../../proto/responses.ts";
import type { Phase } from "../context.ts";

const PREFIX = "/.well-known/acme-challenge/";

export const acmeChallenge: Phase = {
  name: "acme_challenge",
  request(ctx) {
    const challenge = ctx.deps.acmeChallenge;
    if (challenge === undefined || !ctx.target.startsWith(PREFIX)) return undefined;
    const answer = challenge(ctx.target.slice(PREFIX.length));
    if (answer instanceof Promise) {
      return answer.then((text) => text === null ? undefined : proxyResponse(200, text));
    }
    return answer === null ? undefined : proxyResponse(200, answer);
  },
};
