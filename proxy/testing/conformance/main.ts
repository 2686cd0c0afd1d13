/**
 * `deno task conformance`: runs public conformance suites (suites.ts) against a Gatehouse
 * process with an upstream (target.ts), prints a line per suite and a summary in `deno test`'s
 * format ("ok | 8 passed | 0 failed"; one per suite), and exits non-zero when a suite failed.
 * `.ci/run` runs it after the tests and adds its counts to its own summary.
 *
 * ```sh
 * deno task conformance            # every suite
 * deno task conformance h2spec     # the suites whose name contains "h2spec"
 * ```
 *
 * The tools (h2spec, smuggler) are not in this repository: they live in `../shared/tools`
 * beside it (CI has that folder), or beside the main checkout when this is a git worktree, or
 * wherever `CONFORMANCE_TOOLS` says. smuggler writes into its own folder, so it runs from a
 * temporary copy. It needs python3.
 *
 * @module
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Suite, SUITES, type Tools, type Verdict } from "./suites.ts";
import { startTarget, type Target } from "./target.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** A suite still running after this long is stopped and fails. */
const SUITE_TIMEOUT_MS = 15 * 60_000;
const PYTHON = "python3";

/** Candidate tools folders, in the order they are tried. */
function toolFolders(): string[] {
  const fromEnv = Deno.env.get("CONFORMANCE_TOOLS");
  if (fromEnv) return [fromEnv];
  const folders = [join(ROOT, "..", "shared", "tools")];
  const main = mainCheckout();
  if (main !== null) folders.push(join(main, "..", "shared", "tools"));
  return folders;
}

/** The main checkout's folder when ROOT is a git worktree (its `.git` is a file), else null. */
function mainCheckout(): string | null {
  try {
    const text = Deno.readTextFileSync(join(ROOT, ".git"));
    const m = /^gitdir: (.+)\/\.git\/worktrees\/[^/]+\s*$/m.exec(text);
    return m === null ? null : m[1];
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Finds the tools and copies smuggler into `scratch`; throws a readable error if it cannot. */
async function prepareTools(scratch: string): Promise<Tools> {
  const candidates = toolFolders();
  const folder = candidates.find((f) => exists(join(f, "README.md")));
  if (folder === undefined) {
    throw new Error(
      `Cannot run the conformance suites: no tools folder at ${candidates.join(" or ")}; ` +
        `put the shared tools there (CI has them at ../shared/tools beside the repository) or ` +
        `set CONFORMANCE_TOOLS to their folder`,
    );
  }
  const h2spec = join(folder, "h2spec", "h2spec");
  const smugglerSource = join(folder, "smuggler");
  for (const needed of [h2spec, join(smugglerSource, "smuggler.py")]) {
    if (!exists(needed)) {
      throw new Error(`Cannot run the conformance suites: ${needed} is missing`);
    }
  }
  try {
    await new Deno.Command(PYTHON, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
  } catch {
    throw new Error(`Cannot run smuggler: ${PYTHON} is not on PATH; install it (Debian: python3)`);
  }
  const smuggler = join(scratch, "smuggler");
  await cp(smugglerSource, smuggler, { recursive: true });
  return { h2spec, smuggler, python: PYTHON };
}

async function runSuite(suite: Suite, target: Target, tools: Tools): Promise<Verdict> {
  try {
    return await suite.run(target, tools, AbortSignal.timeout(SUITE_TIMEOUT_MS));
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === "TimeoutError";
    return {
      ok: false,
      summary: timedOut ? `stopped after ${SUITE_TIMEOUT_MS / 60_000} minutes` : "did not run",
      failures: [err instanceof Error ? err.message : String(err)],
    };
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Runs the suites whose name contains one of `filters` (all without filters); exit code. */
export async function main(filters: readonly string[]): Promise<number> {
  const suites = SUITES.filter((s) =>
    filters.length === 0 || filters.some((f) => s.name.includes(f))
  );
  if (suites.length === 0) {
    console.error(
      `Cannot find a suite matching ${filters.map((f) => `"${f}"`).join(", ")}; suites: ` +
        SUITES.map((s) => s.name).join(", "),
    );
    return 2;
  }
  const started = performance.now();
  const scratch = await Deno.makeTempDir({ prefix: "gatehouse-conformance-" });
  let passed = 0;
  let failed = 0;
  try {
    const tools = await prepareTools(scratch);
    await using target = await startTarget();
    console.log(
      `Gatehouse: plain 127.0.0.1:${target.plainPort}, h2c 127.0.0.1:${target.h2cPort}, ` +
        `TLS 127.0.0.1:${target.tlsPort}`,
    );
    for (const suite of suites) {
      const t0 = performance.now();
      const verdict = await runSuite(suite, target, tools);
      const took = seconds(performance.now() - t0);
      console.log(
        `${verdict.ok ? "ok    " : "FAILED"} ${suite.name}: ${verdict.summary} (${took})`,
      );
      for (const line of verdict.failures.slice(0, 20)) console.log(`         ${line}`);
      if (verdict.ok) passed++;
      else failed++;
    }
    if (failed > 0) {
      console.log("Gatehouse's log (last lines):");
      for (const line of target.log().trimEnd().split("\n").slice(-10)) console.log(`  ${line}`);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
  const took = seconds(performance.now() - started);
  console.log(`\n${failed > 0 ? "FAILED" : "ok"} | ${passed} passed | ${failed} failed (${took})`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
