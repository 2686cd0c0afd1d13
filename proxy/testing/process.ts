/**
 * Gatehouse as a separate process (`deno run -A proxy/main.ts --config FILE`), for what an
 * in-process runtime cannot show: signals, exit codes, the process's own memory.
 *
 * @module
 */
import { join } from "node:path";
import { loadTestConfig } from "./proxy.ts";
import { closedPort, waitFor } from "./servers.ts";
import { V8_FLAGS_ARG } from "../internal/v8_flags.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
/** main.ts's line once Gatehouse serves, in either log format. */
const SERVING = /Gatehouse \S+ serving /;

/** Where a spawned Gatehouse runs. */
export interface ProcessLimits {
  /** Its soft and hard open-file limits. */
  readonly openFiles?: { readonly soft: number; readonly hard: number };
  /** The directory of a cgroup it runs in (testing/cgroup.ts). */
  readonly cgroup?: string;
}

export interface ProxyProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** The port `config(port)` was given, listening once `spawnProxy` resolved. */
  readonly port: number;
  /** The config's directory (test certificates, `ca.crt`). */
  readonly dir: string;
  /** What the process wrote on stderr so far (its application log). */
  stderr(): string;
  /** What the process wrote on stdout so far (its access log). */
  stdout(): string;
  /** Resident memory now and at its peak, in bytes (from /proc/<pid>/status). */
  memory(): Promise<{ rss: number; peak: number }>;
  /** Sends SIGTERM (if still running), waits for the exit, removes the temp dir. */
  close(): Promise<Deno.CommandStatus>;
}

/**
 * Starts Gatehouse on the YAML `config(port)` (written beside the test certificates, as for
 * `startProxy`) and resolves once it has logged that it serves and accepts connections on
 * `port`. `env` adds environment variables to the process's; `permissions` replaces `-A`;
 * `limits.openFiles` starts it under that open-file limit (through bash's `ulimit`, then exec),
 * `limits.cgroup` in that cgroup (a directory: testing/cgroup.ts). The V8 flags are
 * production's (internal/v8_flags.ts).
 */
export async function spawnProxy(
  config: (port: number) => string,
  env: Record<string, string> = {},
  permissions: readonly string[] = ["-A"],
  limits: ProcessLimits = {},
): Promise<ProxyProcess> {
  const port = closedPort();
  const { config: loaded, dir } = await loadTestConfig(config(port));
  // Gatehouse's start-up probe (tls/server.ts `probePort`) briefly listens on the port without
  // serving, and further worker isolates bind after the first: the "serving" line, logged once
  // every listener of every isolate is bound, is the readiness, where the log level shows it.
  const announces = loaded.log.level === "debug" || loaded.log.level === "info";
  const argv = [
    Deno.execPath(),
    "run",
    V8_FLAGS_ARG,
    ...permissions,
    MAIN,
    "--config",
    join(dir, "gatehouse.yaml"),
  ];
  const { openFiles, cgroup } = limits;
  const setup = [
    ...openFiles === undefined
      ? []
      : [`ulimit -Sn ${openFiles.soft}`, `ulimit -Hn ${openFiles.hard}`],
    ...cgroup === undefined ? [] : [`echo $$ > '${cgroup}/cgroup.procs'`],
  ];
  const [command, ...args] = setup.length === 0
    ? argv
    : ["bash", "-c", `${setup.join(" && ")} && exec "$@"`, "gatehouse", ...argv];
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  let access = "";
  const collected = Promise.all([
    child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (log += text) }),
    ),
    child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (access += text) }),
    ),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let closed: Promise<Deno.CommandStatus> | null = null;
  const close = () =>
    closed ??= (async () => {
      if (!exited) child.kill("SIGTERM");
      const s = await status;
      await collected;
      await Deno.remove(dir, { recursive: true });
      return s;
    })();
  const proc: ProxyProcess = {
    child,
    port,
    dir,
    stderr: () => log,
    stdout: () => access,
    async memory() {
      const text = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)![1]);
      return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
    },
    close,
    [Symbol.asyncDispose]: async () => void await close(),
  };
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`Gatehouse exited at start-up:\n${log}`);
        return (!announces || SERVING.test(log)) && await accepts(port);
      },
      "Gatehouse to listen",
      10_000,
    );
  } catch (err) {
    await close();
    throw err;
  }
  return proc;
}

/** True when a TCP connection to 127.0.0.1:`port` is accepted. */
export async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
