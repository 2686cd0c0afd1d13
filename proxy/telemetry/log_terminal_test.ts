/**
 * The "auto" log format as people meet it: Gatehouse on a terminal (a pty made by `script`)
 * writes text and combined lines, piped it writes JSON, and $GATEHOUSE_LOG_FORMAT overrides.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { yaml } from "../testing/proxy.ts";
import { closedPort, waitFor } from "../testing/servers.ts";
import type { LogSettings } from "../config/types.ts";
import { logFormats } from "./log.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running Gatehouse and everything it wrote (stdout and stderr; one stream on a pty). */
interface Run {
  readonly port: number;
  output(): string;
  /** SIGTERM to Gatehouse, then waits for every process of the run to end. */
  stop(): Promise<void>;
}

async function start(dir: string, options: { pty: boolean; env?: Record<string, string> }) {
  const port = closedPort();
  const config = join(dir, "gatehouse.yaml");
  await Deno.writeTextFile(
    config,
    yaml`
    entrypoints: { web: { address: "127.0.0.1:${port}" } }
    routes: [{ name: app, service: app }]
    services: { app: { servers: ["http://127.0.0.1:${closedPort()}"], retries: 0 } }
    admin: { address: "off" }
  `,
  );
  const gatehouse = [Deno.execPath(), "run", "-A", MAIN, "--config", config];
  const pidFile = join(dir, "pid");
  // `script` runs the command on a new pty; the shell writes its PID and becomes Gatehouse.
  const inner = `echo $$ > ${pidFile}; exec ${gatehouse.join(" ")}`;
  const [command, ...args] = options.pty
    ? ["script", "--quiet", "--return", "--command", inner, "/dev/null"]
    : gatehouse;
  const child = new Deno.Command(command, {
    args,
    env: options.env ?? {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text += chunk) }),
    );
  const done = Promise.all([collect(child.stdout), collect(child.stderr), child.status]);
  const pid = async () => options.pty ? Number(await Deno.readTextFile(pidFile)) : child.pid;
  const run: Run = {
    port,
    output: () => text.replaceAll("\r\n", "\n"),
    async stop() {
      Deno.kill(await pid(), "SIGTERM");
      await done;
    },
  };
  try {
    await waitFor(() => run.output().includes(" serving "), "the start-up line", 30_000);
  } catch (error) {
    await run.stop();
    throw new Error(`${(error as Error).message}; output:\n${run.output()}`);
  }
  return run;
}

/** Starts Gatehouse, sends one request that gets a 502, stops it, returns what it wrote. */
async function linesOf(options: { pty: boolean; env?: Record<string, string> }): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-log-terminal-" });
  try {
    const run = await start(dir, options);
    try {
      const res = await fetch(`http://127.0.0.1:${run.port}/x`);
      assert.equal(res.status, 502);
      await res.body?.cancel();
      await waitFor(() => run.output().includes("/x"), "the access line", 30_000);
    } finally {
      await run.stop();
    }
    return run.output().split("\n").filter((line) => line !== "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("on a terminal, application lines are text and access lines combined, with the error", async () => {
  const lines = await linesOf({ pty: true });
  const startup = lines.find((line) => line.includes(" serving "));
  assert.match(
    startup ?? "",
    /^\S+Z INFO {4}gatehouse\.main: Gatehouse \S+ serving \S+gatehouse\.yaml \(config=[0-9a-f]{12}; 1 entrypoint, 1 route, 0 TCP routes, 1 service(; \d+ worker isolates)?\): http:\/\/127\.0\.0\.1:\d+$/,
  );
  const access = lines.find((line) => line.includes("/x"));
  assert.match(
    access ?? "",
    /^127\.0\.0\.1 - - \[.+\] "GET \/x HTTP\/1\.1" 502 \d+ "-" "\S+" \S+ app app http:\/\/127\.0\.0\.1:\d+ [\d.]+ms "connect failed: Connection refused.*"$/,
  );
  assert.deepEqual(lines.filter((line) => line.startsWith("{")), []);
});

Deno.test("piped, every line is JSON; GATEHOUSE_LOG_FORMAT=json does the same on a terminal", async () => {
  for (const options of [{ pty: false }, { pty: true, env: { GATEHOUSE_LOG_FORMAT: "json" } }]) {
    const records = (await linesOf(options)).map((line) => JSON.parse(line));
    const startup = records.find((r) => r.msg?.includes(" serving "));
    assert.equal(startup?.logger, "gatehouse.main");
    assert.match(startup?.config ?? "", /^[0-9a-f]{12}$/);
    const access = records.find((r) => r.target === "/x");
    assert.equal(access?.status, 502);
    assert.match(access?.error ?? "", /^connect failed: Connection refused/);
  }
});

Deno.test("logFormats: explicit formats stay; auto follows GATEHOUSE_LOG_FORMAT, then the terminal", () => {
  const settings = (format: LogSettings["format"], access: LogSettings["accessLog"]["format"]) => ({
    level: "info" as const,
    format,
    accessLog: { enabled: true, format: access },
  });
  const tty = { stdoutIsTerminal: true, stderrIsTerminal: true };
  const piped = { stdoutIsTerminal: false, stderrIsTerminal: false };
  const auto = settings("auto", "auto");
  assert.deepEqual(logFormats(auto, tty), { app: "text", access: "combined" });
  assert.deepEqual(logFormats(auto, piped), { app: "json", access: "json" });
  assert.deepEqual(logFormats(auto, { stdoutIsTerminal: false, stderrIsTerminal: true }), {
    app: "text",
    access: "json",
  });
  assert.deepEqual(logFormats(auto, { ...tty, env: "JSON" }), { app: "json", access: "json" });
  assert.deepEqual(logFormats(auto, { ...piped, env: "text" }), {
    app: "text",
    access: "combined",
  });
  assert.deepEqual(logFormats(auto, { ...piped, env: "yaml" }), { app: "json", access: "json" });
  assert.deepEqual(logFormats(settings("json", "combined"), { ...tty, env: "text" }), {
    app: "json",
    access: "combined",
  });
});
