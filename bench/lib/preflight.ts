/**
 * One request to each socket of a target before any load, so a broken config fails the run at
 * once with what was wrong, instead of showing up as a slow or erroring row.
 *
 * @module
 */
import { HELLO } from "../configs/upstream.ts";
import { type Layout, PATHS } from "./layout.ts";
import type { Supervisor } from "./procs.ts";
import type { Target } from "./targets.ts";

/** Checks the plain and TLS (h2 and HTTP/1.1) listeners of `target` answer the hello. */
export async function preflight(layout: Layout, sup: Supervisor, target: Target): Promise<void> {
  const { http, https } = target.endpoints;
  const checks: [string, string[]][] = [];
  if (http) checks.push(["plain HTTP/1.1", [`http://127.0.0.1:${http}${PATHS.small}`]]);
  if (https) {
    const url = `https://localhost:${https}${PATHS.small}`;
    checks.push(["TLS h2", ["--http2", "--cacert", layout.files.ca, url]]);
    checks.push(["TLS HTTP/1.1", ["--http1.1", "--cacert", layout.files.ca, url]]);
  }
  for (const [what, args] of checks) {
    const argv = [
      "curl",
      "-sS",
      "--max-time",
      "10",
      "-w",
      "\n%{http_code} %{http_version}",
      ...args,
    ];
    const out = await sup.run(argv, layout.pinning.load);
    const [body, status] = [
      out.stdout.slice(0, out.stdout.lastIndexOf("\n") + 1),
      out.stdout.split("\n").at(-1),
    ];
    const expected = what === "TLS h2" ? "200 2" : "200 1.1";
    if (out.code !== 0 || status !== expected || body !== HELLO + "\n") {
      throw new Error(
        `Cannot bench ${target.name}: ${what} check (${argv.join(" ")}) got "${status}" ` +
          `and body "${body.trim()}" (expected "${expected}" and "${HELLO.trim()}"): ${out.stderr.trim()}`,
      );
    }
  }
}
