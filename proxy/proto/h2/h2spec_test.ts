/**
 * Conformance: h2spec (../shared/tools/h2spec) against the test server on the engine, normal
 * (146 cases) and strict (147), over TLS with ALPN h2 and over h2c with prior knowledge.
 */
import assert from "node:assert/strict";
import { h2TestServer } from "../../testing/h2_server.ts";

/** The repository root. */
const ROOT = new URL("../../..", import.meta.url).pathname;

/**
 * h2spec: $H2SPEC, else `../shared/tools/h2spec/h2spec` beside the checkout (CI and the main
 * checkout), else two levels up (a git worktree under wt/).
 */
function findH2spec(): string {
  const candidates = [
    Deno.env.get("H2SPEC"),
    `${ROOT}../shared/tools/h2spec/h2spec`,
    `${ROOT}../../shared/tools/h2spec/h2spec`,
  ].filter((p): p is string => p !== undefined);
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `Cannot run h2spec: not found at ${candidates.join(", ")}; set H2SPEC to its path`,
  );
}

const H2SPEC = findH2spec();

async function h2spec(args: string[]): Promise<{ summary: string; output: string }> {
  const out = await new Deno.Command(H2SPEC, {
    args: [...args, "-h", "127.0.0.1", "-o", "5"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const summary = /(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed/.exec(output)?.[0] ?? "";
  return { summary, output };
}

function failures(output: string): string {
  const at = output.indexOf("Failures:");
  return at < 0 ? output.slice(-2000) : output.slice(at, at + 4000);
}

for (const tls of [true, false]) {
  Deno.test(`h2spec passes every case over ${tls ? "TLS (ALPN h2)" : "h2c prior knowledge"}`, async () => {
    await using server = await h2TestServer({ tls });
    const base = [...(tls ? ["-t", "-k"] : []), "-p", String(server.port)];
    const normal = await h2spec(base);
    assert.equal(
      normal.summary,
      "146 tests, 146 passed, 0 skipped, 0 failed",
      failures(normal.output),
    );
    const strict = await h2spec([...base, "-S"]);
    assert.equal(
      strict.summary,
      "147 tests, 147 passed, 0 skipped, 0 failed",
      failures(strict.output),
    );
  });
}
