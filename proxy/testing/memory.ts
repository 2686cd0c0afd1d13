/**
 * Memory growth of this isolate while `run` goes: the V8 heap and the memory it holds outside the
 * heap (ArrayBuffers), sampled every 10 ms. Unlike the process's RSS, this is not moved by the
 * other test modules that `deno test --parallel` runs in the same process on other threads.
 */
export async function isolateGrowth<T>(
  run: () => Promise<T>,
): Promise<{ result: T; growth: number }> {
  const size = () => {
    const m = Deno.memoryUsage();
    return m.heapTotal + m.external;
  };
  const before = size();
  let peak = before;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, size());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    const result = await run();
    return { result, growth: Math.max(peak, size()) - before };
  } finally {
    running = false;
    await sampler;
  }
}
