/**
 * Every process the bench starts goes through one `Supervisor`: pinned to CPUs with `taskset`,
 * remembered by PID (also in a file, so a crashed run's leftovers can be found), and stopped by
 * PID at the end, on failure and on Ctrl-C.
 *
 * @module
 */

/** How to start a long-running process. */
export interface SpawnOptions {
  /** CPU list for taskset, e.g. "1" or "0,1". */
  cpus: string;
  /** File receiving stdout and stderr (the process writes it directly, no pipe). */
  log: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** A process started by the supervisor. */
export interface Spawned {
  name: string;
  pid: number;
  argv: string[];
  status: Promise<Deno.CommandStatus>;
  exited(): boolean;
}

/** Output of a load generator run to completion. */
export interface ToolOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts, tracks and stops the bench's processes. */
export class Supervisor {
  readonly #running = new Map<number, Spawned>();
  readonly #pidFile: string;

  constructor(pidFile: string) {
    this.#pidFile = pidFile;
  }

  /** Starts a server pinned to `options.cpus`; its output goes straight to `options.log`. */
  spawn(name: string, argv: string[], options: SpawnOptions): Spawned {
    // sh, taskset and the program exec into one another: the PID we get is the program's.
    const script = 'log=$1; shift; exec "$@" >"$log" 2>&1';
    const child = new Deno.Command("sh", {
      args: ["-c", script, "sh", options.log, "taskset", "-c", options.cpus, ...argv],
      env: { NO_COLOR: "1", ...options.env },
      cwd: options.cwd,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let done = false;
    const status = child.status.finally(() => {
      done = true;
      this.#forget(child.pid);
    });
    const spawned: Spawned = { name, pid: child.pid, argv, status, exited: () => done };
    this.#remember(spawned);
    return spawned;
  }

  /**
   * Starts a load generator pinned to `cpus` with piped stdin and stdout; it is stopped with
   * the others if the run ends before it does.
   */
  start(argv: string[], cpus: string, stdin: "null" | "piped" = "null"): Deno.ChildProcess {
    const child = new Deno.Command("taskset", {
      args: ["-c", cpus, ...argv],
      env: { NO_COLOR: "1" },
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const status = child.status.finally(() => this.#forget(child.pid));
    let done = false;
    status.then(() => done = true, () => done = true);
    this.#remember({ name: argv[0], pid: child.pid, argv, status, exited: () => done });
    return child;
  }

  /** Runs a load generator pinned to `cpus` to completion and returns its output. */
  async run(argv: string[], cpus: string): Promise<ToolOutput> {
    const out = await this.start(argv, cpus).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`, and waits for the exit. */
  async stop(spawned: Spawned, graceMs = 3000): Promise<void> {
    if (spawned.exited()) return;
    signal(spawned.pid, "SIGTERM");
    const timer = setTimeout(() => signal(spawned.pid, "SIGKILL"), graceMs);
    try {
      await spawned.status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every process still running, newest first. */
  async stopAll(): Promise<void> {
    const all = [...this.#running.values()].reverse();
    await Promise.all(all.map((p) => this.stop(p)));
    this.#writePidFile();
  }

  #remember(spawned: Spawned): void {
    this.#running.set(spawned.pid, spawned);
    this.#writePidFile();
  }

  #forget(pid: number): void {
    if (this.#running.delete(pid)) this.#writePidFile();
  }

  #writePidFile(): void {
    const rows = [...this.#running.values()].map((p) => ({ pid: p.pid, argv: p.argv }));
    Deno.writeTextFileSync(this.#pidFile, JSON.stringify(rows, null, 1) + "\n");
  }
}

/**
 * Stops processes listed in a previous run's PID file that still run the same command line
 * (a run killed with SIGKILL cannot clean up after itself). Returns what it stopped.
 */
export async function stopLeftovers(pidFile: string): Promise<string[]> {
  let rows: { pid: number; argv: string[] }[];
  try {
    rows = JSON.parse(await Deno.readTextFile(pidFile));
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const row of rows) {
    const cmdline = await readProc(row.pid, "cmdline");
    if (cmdline === null || !cmdline.includes(row.argv.at(-1) ?? "\0")) continue;
    signal(row.pid, "SIGKILL");
    stopped.push(`${row.pid} ${row.argv.join(" ")}`);
  }
  return stopped;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Contents of /proc/<pid>/<file>, or null when the process is gone. */
export async function readProc(pid: number, file: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(`/proc/${pid}/${file}`);
  } catch {
    return null;
  }
}

/** `pid` and all its descendants (nginx's master and workers, for instance). */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await readProc(Number(entry.name), "stat");
    if (stat === null) continue;
    const ppid = Number(statFields(stat)[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry.name)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]) ?? []));
  return tree;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** User plus system CPU time of these processes (all their threads), in clock ticks. */
export async function cpuTicks(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readProc(pid, "stat");
    if (stat === null) continue;
    const fields = statFields(stat);
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks;
}

/** Sum of VmRSS of these processes, in KiB. */
export async function rssKiB(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const status = await readProc(pid, "status");
    const match = status?.match(/^VmRSS:\s+(\d+) kB$/m);
    if (match) total += Number(match[1]);
  }
  return total;
}
