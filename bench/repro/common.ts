/**
 * Helpers shared by the repro drivers in bench/repro/: start a server process and wait for its
 * port, run wrk and read its figures, stop what was started (by PID), and print a table.
 * Everything listens on 127.0.0.1 and every load run is bounded in time.
 *
 * @module
 */
import { youngCollections } from "../../proxy/testing/gc_trace.ts";

/** A server started by a driver. */
export interface Server {
  readonly child: Deno.ChildProcess;
  /** Everything the server wrote to stderr so far (fairness lines, errors). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `argv` with extra environment variables, collecting its stderr. */
export function startProcess(argv: string[], env: Record<string, string> = {}): Server {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  return {
    child,
    stderr: () => text,
    async stop() {
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      clearTimeout(timer);
      await pump;
    },
  };
}

/**
 * Starts `argv` with extra environment variables and waits until `port` accepts (and, with
 * `readyLine`, until the server wrote that line to stderr). Refuses to start when something
 * already listens on `port` (a leftover would answer in its place). `stop` sends SIGTERM
 * (nginx's master stops its workers on it) and SIGKILL after 5 s.
 */
export async function startServer(
  argv: string[],
  port: number,
  env: Record<string, string> = {},
  readyLine?: string,
): Promise<Server> {
  if (await accepts(port)) {
    throw new Error(`Cannot start ${argv[0]}: 127.0.0.1:${port} is already in use`);
  }
  const server = startProcess(argv, env);
  try {
    await waitForPort(port, 15_000);
    const deadline = Date.now() + 15_000;
    while (readyLine !== undefined && !server.stderr().includes(readyLine)) {
      if (Date.now() > deadline) throw new Error(`Cannot see "${readyLine}" from the server`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}; ${argv.join(" ")} wrote: ${server.stderr()}`);
  }
  return server;
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Polls until 127.0.0.1:`port` accepts a connection, or throws after `ms`. */
export async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`Cannot reach 127.0.0.1:${port}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** What one wrk run measured. Latencies in ms. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

/** Runs wrk (one thread) against `url` and parses its --latency output. */
export async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const ms = (re: RegExp) => {
    const m = text.match(re);
    if (!m) throw new Error(`Cannot parse wrk output: ${re} not found in:\n${text}`);
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : m[2] === "m" ? v * 60_000 : v;
  };
  const errors = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    p50: ms(/50%\s+([\d.]+)(us|ms|s|m)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s|m)/),
    max: ms(/Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/),
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Parses `--name value` pairs with defaults. */
export function flags(defaults: Record<string, string>): Record<string, string> {
  const out = { ...defaults };
  for (let i = 0; i < Deno.args.length; i += 2) {
    const key = Deno.args[i].replace(/^--/, "");
    if (!(key in defaults)) throw new Error(`Cannot use option --${key}: unknown`);
    out[key] = Deno.args[i + 1];
  }
  return out;
}

/** Prints rows as an aligned table (first row is the header). */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** min-max of numbers, formatted with `digits`. */
export function range(values: number[], digits = 1): string {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}-${hi}`;
}

/**
 * A self-signed P-256 certificate for localhost and 127.0.0.1, valid 2 days, written by openssl
 * into `dir` as cert.pem and key.pem; their paths.
 */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
      .concat(["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"])
      .concat(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
      .concat(["-addext", "basicConstraints=critical,CA:FALSE"]),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot create a certificate: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { cert, key };
}

/**
 * Runs `script` once per variant (its first argument) in a child Deno under `--trace-gc-nvp` and
 * prints what V8's young collections allocated and promoted there.
 */
export async function promotionByVariant(script: string, variants: string[]): Promise<void> {
  for (const variant of variants) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--trace-gc-nvp", script, variant],
      stdout: "piped",
    }).output();
    const { allocated, promoted } = youngCollections(new TextDecoder().decode(out.stdout));
    console.log(
      `${variant.padEnd(9)} allocated ${(allocated / 1e6).toFixed(0)} MB, promoted ` +
        `${(promoted / 1e6).toFixed(2)} MB (${(100 * promoted / allocated).toFixed(1)}%)`,
    );
  }
}
