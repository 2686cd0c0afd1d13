/**
 * The V8 flags Gatehouse runs with. They must be on the `deno run` command line (V8 reads them
 * when the heap is set up; `node:v8`'s setFlagsFromString at start-up had no effect, measured), so
 * `deno task start`, the image's ENTRYPOINT, the bench and the tests' spawned proxies all pass
 * `V8_FLAGS_ARG`; deploy/manifests_test.ts fails when the image or the task does not, and
 * proxy/gc_promotion_test.ts when the flag stops working.
 *
 * `--no-allocation-site-pretenuring`: with hundreds of requests in flight, V8 saw most objects of
 * some per-request allocation sites survive a young collection and began allocating them in the
 * old generation directly ("pretenuring"). Garbage as soon as their request ends, those old
 * objects kept the young ones they point at alive through every young collection until the next
 * full one: 11-12% of all allocation was promoted under `wrk -c500` (HTTP/1.1) and `h2load -c50
 * -m10` (HTTP/2), against 0.1-0.5% without pretenuring, and young collections took twice the time
 * (docs/runtime.md, "Requests promoted under load"). A proxy's allocations are almost all per
 * request and short-lived, the case pretenuring gets wrong.
 */
export const V8_FLAGS: readonly string[] = ["--no-allocation-site-pretenuring"];

/** The `deno run` option that sets `V8_FLAGS`. */
export const V8_FLAGS_ARG = `--v8-flags=${V8_FLAGS.join(",")}`;
