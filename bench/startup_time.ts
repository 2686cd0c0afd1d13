/**
 * Start-up time of Gatehouse: wall time from spawning `deno run proxy/main.ts` (with the
 * permissions of `deno task start`, plus write for `--dev-certs`) to its "serving" log line,
 * and the CPU time the process had used by then (from /proc, Linux only). A TLS entrypoint and
 * the admin endpoint on port 0; the certificates are made once beforehand.
 *
 *   deno run -A bench/startup_time.ts [--runs 12] [--dev-certs] [--against DIR]
 *
 * `--dev-certs` starts as the container does (`--ensure-dev-certs`, files already valid).
 * `--against DIR` also starts another tree (e.g. `git archive REV | tar -x -C DIR`, then
 * `deno install` there), interleaved with this one so that load on the machine hits both alike.
 * Medians are printed; on a shared machine compare CPU rather than wall time.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "./lib/layout.ts";

const CONFIG = `
entrypoints:
  websecure:
    address: "127.0.0.1:0"
    tls:
      certificates:
        - { cert: certs/localhost.crt, key: certs/localhost.key }
routes:
  - { name: welcome, service: welcome@internal }
admin: { address: "127.0.0.1:0" }
`;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** Starts the tree at `root` once, waits for "serving", stops it with SIGTERM. */
async function startOnce(root: string, dir: string, devCerts: boolean): Promise<Sample> {
  const args = ["run", "--allow-net", "--allow-read", "--allow-env", "--allow-sys"];
  if (devCerts) args.push(`--allow-write=${dir}`);
  args.push("proxy/main.ts", "--config", join(dir, "gatehouse.yaml"));
  if (devCerts) args.push("--ensure-dev-certs", join(dir, "certs"));
  const started = performance.now();
  const child = new Deno.Command("deno", { args, cwd: root, stdout: "null", stderr: "piped" })
    .spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("serving")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot start Gatehouse in ${root}: it exited\n${seen}`);
    seen += value;
  }
  const wallMs = performance.now() - started;
  const stat = (await Deno.readTextFile(`/proc/${child.pid}/stat`)).split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  child.kill("SIGTERM");
  await reader.cancel();
  await child.status;
  return { wallMs, cpuMs: ticks * 10 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "12" },
      "dev-certs": { type: "boolean", default: false },
      against: { type: "string" },
    },
  });
  const runs = Number(values.runs);
  const roots = [ROOT, ...(values.against ? [values.against] : [])];
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-startup-" });
  try {
    await Deno.writeTextFile(join(dir, "gatehouse.yaml"), CONFIG);
    const made = await new Deno.Command("deno", {
      args: ["run", "-A", "certs/mkcert.ts", "--dir", join(dir, "certs")],
      cwd: ROOT,
      stdout: "null",
    }).output();
    if (!made.success) throw new Error("Cannot make the test certificates");
    const samples = roots.map(() => [] as Sample[]);
    for (const root of roots) await startOnce(root, dir, values["dev-certs"]);
    for (let i = 0; i < runs; i++) {
      for (const [k, root] of roots.entries()) {
        samples[k].push(await startOnce(root, dir, values["dev-certs"]));
      }
    }
    for (const [k, root] of roots.entries()) {
      const wall = median(samples[k].map((s) => s.wallMs)).toFixed(0);
      const cpu = median(samples[k].map((s) => s.cpuMs));
      console.log(`${root}: to "serving" median ${wall} ms wall, ${cpu} ms CPU (${runs} runs)`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
