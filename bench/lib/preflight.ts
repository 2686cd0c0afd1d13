/**
 * One request to each socket of a target before any load, so a broken config fails the run at
 * once with what was wrong, instead of showing up as a slow or erroring row.
 *
 * @module
 */
import { HELLO } from "../configs/upstream.ts";
import { GRPC_PATH, GRPC_REQUEST, type Layout, PATHS } from "./layout.ts";
import type { Supervisor } from "./procs.ts";
import type { Target } from "./targets.ts";

/**
 * Checks the plain, h2c and TLS (h2 and HTTP/1.1) listeners of `target` answer the hello, and its
 * gRPC listener a gRPC call with the trailer `grpc-status: 0`.
 */
export async function preflight(layout: Layout, sup: Supervisor, target: Target): Promise<void> {
  const { http, https, h2c, grpc } = target.endpoints;
  if (grpc) await grpcCheck(layout, sup, target, grpc);
  const checks: [string, string[]][] = [];
  if (http) checks.push(["plain HTTP/1.1", [`http://127.0.0.1:${http}${PATHS.small}`]]);
  if (h2c) {
    checks.push(["h2c", ["--http2-prior-knowledge", `http://127.0.0.1:${h2c}${PATHS.small}`]]);
  }
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
    const expected = what === "TLS h2" || what === "h2c" ? "200 2" : "200 1.1";
    if (out.code !== 0 || status !== expected || body !== HELLO + "\n") {
      throw new Error(
        `Cannot bench ${target.name}: ${what} check (${argv.join(" ")}) got "${status}" ` +
          `and body "${body.trim()}" (expected "${expected}" and "${HELLO.trim()}"): ${out.stderr.trim()}`,
      );
    }
  }
}

/** One gRPC-framed POST over h2c; the answer must be 200 with the trailer `grpc-status: 0`. */
async function grpcCheck(layout: Layout, sup: Supervisor, target: Target, port: number) {
  const body = `${layout.files.out}/grpc-preflight.bin`;
  await Deno.writeFile(body, GRPC_REQUEST);
  const argv = [
    "curl",
    "-sS",
    "--max-time",
    "10",
    "--http2-prior-knowledge",
    "-D",
    "-",
    "-o",
    "/dev/null",
    "--data-binary",
    `@${body}`,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `http://127.0.0.1:${port}${GRPC_PATH}`,
  ];
  const out = await sup.run(argv, layout.pinning.load);
  const head = out.stdout.replaceAll("\r", "");
  if (out.code !== 0 || !head.startsWith("HTTP/2 200") || !/^grpc-status: 0$/m.test(head)) {
    throw new Error(
      `Cannot bench ${target.name}: gRPC check (${argv.join(" ")}) got "${head.trim()}" ` +
        `(expected HTTP/2 200 and the trailer grpc-status: 0): ${out.stderr.trim()}`,
    );
  }
}
