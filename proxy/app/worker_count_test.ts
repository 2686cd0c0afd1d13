/** The worker count: a number is kept, auto follows the CPUs the process may run on. */
import assert from "node:assert/strict";
import { workerCount } from "./worker_count.ts";

Deno.test("a number is kept; auto is the CPUs this process may use", () => {
  assert.equal(workerCount(3), 3);
  assert.equal(workerCount("auto"), navigator.hardwareConcurrency);
});

Deno.test("auto follows the CPU affinity (taskset -c 0: one worker)", async () => {
  const taskset = "/usr/bin/taskset";
  const script = `import { workerCount } from ${
    JSON.stringify(import.meta.resolve("./worker_count.ts"))
  };
console.log(workerCount("auto"));`;
  const out = await new Deno.Command(taskset, {
    args: ["-c", "0", Deno.execPath(), "eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "1");
});
