/**
 * The public conformance suites `deno task conformance` runs (tools from ../shared/tools, see its
 * README.md), each as one `Suite`: how to run the tool against a `Target` and how to read its
 * verdict from its output.
 *
 * - h2spec (HTTP/2 and HPACK): every case must pass, none skipped; `-S` adds the strict ones.
 * - smuggler (HTTP/1.1 request smuggling, timing-based, CL.TE/TE.CL mutations): no finding.
 *
 * h2spec runs over TLS (ALPN h2) and over h2c with prior knowledge on the `h2c: only` entrypoint,
 * each normal and strict. To add a suite, add a `Suite` to `SUITES`.
 *
 * @module
 */
import type { Target } from "./target.ts";

/** Where the tools are: the h2spec binary and a writable copy of the smuggler folder. */
export interface Tools {
  readonly h2spec: string;
  readonly smuggler: string;
  readonly python: string;
}

/** A suite's verdict. */
export interface Verdict {
  readonly ok: boolean;
  /** One line: the counts, e.g. "146/146 cases" or "668 mutations, 0 findings". */
  readonly summary: string;
  /** What failed, one line each (empty when ok). */
  readonly failures: readonly string[];
}

export interface Suite {
  readonly name: string;
  run(target: Target, tools: Tools, signal: AbortSignal): Promise<Verdict>;
}

/** h2spec's counts, from its last line "146 tests, 146 passed, 0 skipped, 0 failed". */
export interface H2specCounts {
  readonly tests: number;
  readonly passed: number;
  readonly skipped: number;
  readonly failed: number;
  /** The lines of failed cases (marked "×"). */
  readonly failures: readonly string[];
}

/** Reads h2spec's output; null when it has no summary line (the tool did not finish). */
export function parseH2spec(output: string): H2specCounts | null {
  const m = /^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed$/m.exec(output);
  if (m === null) return null;
  const failures = lines(output).filter((line) => line.includes("×")).map((line) => line.trim());
  return {
    tests: Number(m[1]),
    passed: Number(m[2]),
    skipped: Number(m[3]),
    failed: Number(m[4]),
    failures: [...new Set(failures)],
  };
}

/** smuggler's verdicts: one per mutation, by outcome ("OK", "DISCONNECTED", ...). */
export interface SmugglerCounts {
  readonly mutations: number;
  readonly outcomes: ReadonlyMap<string, number>;
  /** "[name]: Potential CLTE Issue Found - POST @ ...", one per finding. */
  readonly findings: readonly string[];
  /** "[CRITICAL]: CLTE Payload: <file> URL: ...": where smuggler saved each finding's bytes. */
  readonly payloads: readonly string[];
}

/**
 * Reads smuggler's output: it rewrites each mutation's line with "\r" until the verdict, so the
 * last segment of a line is what it concluded ("[name]   : OK (TECL: 0.02 - 400) ...").
 */
export function parseSmuggler(output: string): SmugglerCounts {
  const outcomes = new Map<string, number>();
  const findings: string[] = [];
  const payloads: string[] = [];
  let mutations = 0;
  for (const line of lines(output)) {
    const m = /^\[([^\]+][^\]]*)\]\s*:\s*(.*)$/.exec(line);
    if (m === null || m[2].startsWith("Checking ")) continue;
    if (m[1] === "CRITICAL") {
      payloads.push(line.trim());
      continue;
    }
    if (m[2].includes("Issue Found")) findings.push(line.trim());
    mutations++;
    const outcome = m[2].replace(/ \(.*$/, "").replace(/ - .*$/, "").trim();
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  return { mutations, outcomes, findings, payloads };
}

/** The final "\r"-separated segment of each output line, without colour codes. */
function lines(output: string): string[] {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  return plain.split("\n").map((line) => line.split("\r").filter((s) => s.trim() !== "").at(-1))
    .filter((line): line is string => line !== undefined);
}

async function runTool(
  cmd: string,
  args: string[],
  cwd: string | undefined,
  signal: AbortSignal,
): Promise<{ output: string; code: number }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { output: text, code: out.code };
}

/** h2spec over TLS (ALPN h2), or over plain TCP with prior knowledge ("h2c"). */
export function h2spec(options: { transport: "tls" | "h2c"; strict: boolean }): Suite {
  const { transport, strict } = options;
  return {
    name: `h2spec ${transport}${strict ? " strict" : ""}`,
    async run(target, tools, signal) {
      const port = transport === "tls" ? target.tlsPort : target.h2cPort;
      const args = ["-h", "127.0.0.1", "-p", String(port)]
        .concat(transport === "tls" ? ["-t", "-k"] : [], strict ? ["-S"] : []);
      const { output, code } = await runTool(tools.h2spec, args, undefined, signal);
      const counts = parseH2spec(output);
      if (counts === null) {
        return {
          ok: false,
          summary: `no summary from h2spec (exit code ${code})`,
          failures: lines(output).slice(-5),
        };
      }
      const ok = counts.failed === 0 && counts.skipped === 0 && counts.passed === counts.tests &&
        counts.tests > 0;
      const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : "";
      return {
        ok,
        summary: `${counts.passed}/${counts.tests} cases${skipped}`,
        failures: counts.failures,
      };
    },
  };
}

/** smuggler with one of its configs against the plain or the TLS entrypoint. */
export function smuggler(options: {
  config: "default" | "exhaustive" | "doubles";
  transport: "plain" | "tls";
}): Suite {
  const { config, transport } = options;
  return {
    name: `smuggler ${config} ${transport}`,
    async run(target, tools, signal) {
      const url = transport === "tls"
        ? `https://127.0.0.1:${target.tlsPort}/`
        : `http://127.0.0.1:${target.plainPort}/`;
      // A bare file name: smuggler looks it up in its own configs/ folder.
      const args = ["smuggler.py", "-u", url, "-c", `${config}.py`, "--no-color", "-t", "5"];
      const { output, code } = await runTool(tools.python, args, tools.smuggler, signal);
      const counts = parseSmuggler(output);
      const outcomes = [...counts.outcomes].map(([name, n]) => `${n} ${name}`).join(", ");
      const summary = `${counts.mutations} mutations (${outcomes || "none"}), ` +
        `${counts.findings.length} findings`;
      if (counts.mutations === 0 || code !== 0) {
        return {
          ok: false,
          summary: `${summary}; smuggler exited with ${code}`,
          failures: lines(output).slice(-5),
        };
      }
      return {
        ok: counts.findings.length === 0,
        summary,
        failures: [...counts.findings, ...counts.payloads],
      };
    },
  };
}

/** What `deno task conformance` runs, in order. */
export const SUITES: readonly Suite[] = [
  h2spec({ transport: "tls", strict: false }),
  h2spec({ transport: "tls", strict: true }),
  h2spec({ transport: "h2c", strict: false }),
  h2spec({ transport: "h2c", strict: true }),
  ...(["default", "exhaustive", "doubles"] as const).flatMap((config) =>
    (["plain", "tls"] as const).map((transport) => smuggler({ config, transport }))
  ),
];
