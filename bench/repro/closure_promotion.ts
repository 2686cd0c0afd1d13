/**
 * V8 allocates a function literal assigned straight to a property (`holder.f = () => ...`) in the
 * old generation; the same literal kept in a variable first, or returned by a function, is young.
 * Each "request" here (an array of 30 small objects, held across a macrotask by a closure on a
 * fresh object, then dropped) runs in a child process under `--trace-gc-nvp`; the bytes V8's young
 * collections promoted are summed from its trace. docs/runtime.md, "Closures assigned to
 * properties".
 *
 * `deno run -A bench/repro/closure_promotion.ts`
 *
 * @module
 */
import { promotionByVariant } from "./common.ts";

const mode = Deno.args[0];

if (mode === undefined) {
  await promotionByVariant(new URL(import.meta.url).pathname, ["assigned", "variable", "none"]);
} else {
  class Holder {
    f: (() => number) | null = null;
  }
  const request = () => Array.from({ length: 30 }, (_, i) => ({ i, s: `x${i}` }));
  const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const handle = async (req: unknown[]) => {
    const holder = new Holder();
    if (mode === "assigned") {
      holder.f = () => req.length;
    } else if (mode === "variable") {
      const f = () => req.length;
      holder.f = f;
    }
    await macrotask();
    holder.f = null;
  };
  const until = Date.now() + 4000;
  while (Date.now() < until) await handle(request());
}
