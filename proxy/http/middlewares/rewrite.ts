/**
 * `rewrite`: the path the upstream gets (after the route's strip_prefix; the query is kept):
 * replaced whole, by a regex with captures, with a prefix added, or with what a regex matches
 * at its start removed. The access log keeps the client's target and adds the rewritten one
 * (`upstreamTarget`).
 *
 * Tested by rewrite_test.ts.
 */
import type { Middleware, RewriteSpec } from "../../config/types.ts";
import type { Built } from "./middleware.ts";

export function rewrite(def: RewriteSpec & Middleware): Built {
  const change = changer(def);
  return {
    phase: {
      name: def.name,
      request(ctx) {
        const target = ctx.upstreamTarget;
        if (target === "*") return undefined;
        const q = target.indexOf("?");
        const path = q < 0 ? target : target.slice(0, q);
        let next = change(path);
        if (!next.startsWith("/")) next = "/" + next;
        ctx.upstreamTarget = next + (q < 0 ? "" : target.slice(q));
        ctx.log.upstreamTarget = ctx.upstreamTarget;
        return undefined;
      },
    },
  };
}

function changer(def: RewriteSpec): (path: string) => string {
  switch (def.form) {
    case "path":
      return () => def.path;
    case "regex": {
      const re = new RegExp(def.regex);
      return (path) => path.replace(re, def.replacement);
    }
    case "add_prefix": {
      const prefix = def.prefix;
      return (path) => prefix + path;
    }
    case "strip_regex": {
      const re = new RegExp(`^(?:${def.regex})`);
      return (path) => path.replace(re, "");
    }
  }
}
