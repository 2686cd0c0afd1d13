import assert from "node:assert/strict";
import { cgroupLimit, memoryLimit, parseSelfCgroup } from "./memory_limit.ts";
import { memoryCgroup, memoryCgroupVersion } from "../testing/cgroup.ts";

const MIB = 1024 * 1024;

Deno.test("memory limit: the memory cgroup in /proc/self/cgroup (v1 first, as Deno and Node read it)", () => {
  assert.deepEqual(parseSelfCgroup("12:pids:/\n11:memory:/docker/abc\n0::/\n"), {
    version: 1,
    path: "docker/abc",
  });
  assert.deepEqual(parseSelfCgroup("0::/system.slice/gatehouse.service\n"), {
    version: 2,
    path: "system.slice/gatehouse.service",
  });
  assert.deepEqual(parseSelfCgroup("0::/\n"), { version: 2, path: "" });
  assert.equal(parseSelfCgroup("3:cpu,cpuacct:/x\n"), null);
  assert.equal(parseSelfCgroup(""), null);
});

Deno.test("memory limit: the cgroup's own file, else the root of the mount (a container on v1), never 'no limit' as a number", () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path] ?? null;
  assert.deepEqual(
    cgroupLimit(files({
      "/proc/self/cgroup": "0::/app.slice\n",
      "/sys/fs/cgroup/app.slice/memory.max": "536870912\n",
    })),
    { bytes: 512 * MIB, kind: "cgroup", source: "cgroup v2 /sys/fs/cgroup/app.slice/memory.max" },
  );
  // A container on a cgroup v1 host: /proc/self/cgroup names the host's path, which the
  // container cannot see; its own cgroup is mounted at the root.
  assert.deepEqual(
    cgroupLimit(files({
      "/proc/self/cgroup": "9:memory:/docker/0123abcd\n",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "209715200\n",
    })),
    {
      bytes: 200 * MIB,
      kind: "cgroup",
      source: "cgroup v1 /sys/fs/cgroup/memory/memory.limit_in_bytes",
    },
  );
  const unlimited: Record<string, string>[] = [
    { "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n" },
    {
      "/proc/self/cgroup": "9:memory:/\n",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
    },
    { "/proc/self/cgroup": "0::/x\n" },
    {},
  ];
  for (const entries of unlimited) assert.equal(cgroupLimit(files(entries)), null);
});

Deno.test("memory limit: this process's is at most the machine's memory", () => {
  const limit = memoryLimit();
  assert.ok(limit !== null, "the C library loads under -A");
  assert.ok(limit.bytes > 0 && limit.bytes <= Deno.systemMemoryInfo().total);
});

Deno.test({
  name: "memory limit: a process in a memory cgroup reads that cgroup's limit",
  ignore: memoryCgroupVersion() === null && Deno.env.get("CI") === undefined,
  async fn() {
    await using group = await memoryCgroup(300 * MIB);
    const script = `
      import { memoryLimit } from "${new URL("./memory_limit.ts", import.meta.url).href}";
      console.log(JSON.stringify(memoryLimit()));
    `;
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: [
        "-c",
        `echo $$ > '${group.dir}/cgroup.procs' && exec "$@"`,
        "child",
        Deno.execPath(),
        "eval",
        "--ext=ts",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const limit = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(limit.bytes, 300 * MIB);
    assert.equal(limit.kind, "cgroup");
    assert.match(limit.source, new RegExp(`${group.dir.split("/").at(-1)}`));
  },
});
