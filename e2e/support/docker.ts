/**
 * The Docker side of the e2e tests: the docker CLI (and docker-compose), image builds with the
 * classic builder, and polling. Every image a test builds carries the run's tag, and `remove`
 * deletes them all, so a run leaves nothing behind.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root: the build context and the directory of docker-compose.yml. */
export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** testcontainers' reaper (Ryuk) cannot be pulled without a registry; tests clean up instead. */
Deno.env.set("TESTCONTAINERS_RYUK_DISABLED", "true");

/** What a command printed and how it ended. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command` and returns its output; throws when it fails unless `check` is false. */
export async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; check?: boolean; cwd?: string } = {},
): Promise<RunResult> {
  const output = await new Deno.Command(command, {
    args,
    env: options.env,
    cwd: options.cwd ?? REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
  if (result.code !== 0 && options.check !== false) {
    throw new Error(
      `Cannot run "${command} ${args.join(" ")}": exit code ${result.code}\n${result.stderr}`,
    );
  }
  return result;
}

/** Runs `docker ARGS`; returns its standard output, trimmed. */
export async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args)).stdout.trim();
}

/** `docker-compose` (Debian's 1.29) when installed, else `docker compose` (v2). */
export async function composeCommand(): Promise<string[]> {
  const v1 = await run("docker-compose", ["version"], { check: false }).catch(() => null);
  return v1?.code === 0 ? ["docker-compose"] : ["docker", "compose"];
}

/** A tag unique to this test run. */
export function runTag(): string {
  return `e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** The images of docker-compose.yml, built from this checkout with one tag. */
export interface Images extends AsyncDisposable {
  readonly tag: string;
  readonly gatehouse: string;
  readonly http: string;
  readonly ws: string;
  readonly tcp: string;
  /** The GET-only Docker socket proxy (deploy/socket-proxy). */
  readonly socketProxy: string;
  /** Removes every image the build tagged (and their untagged layers). */
  remove(): Promise<void>;
}

const BUILD_HINT = "Without a registry, run deploy/offline/build_base_image.sh and " +
  "deploy/offline/seed_node_modules.sh first (deploy/README.md)";

async function build(tagged: string[], args: string[]): Promise<void> {
  const result = await run("docker", ["build", "--quiet", "--force-rm", ...args], {
    env: { DOCKER_BUILDKIT: "0" },
    check: false,
  });
  if (result.code !== 0) {
    throw new Error(`Cannot build ${args.at(-1)}: ${result.stderr.trim()}\n${BUILD_HINT}`);
  }
  tagged.push(...args.filter((_, i) => args[i - 1] === "--tag"));
}

/**
 * Builds Gatehouse, the demo apps and the socket proxy (`which` picks some) with the classic
 * builder and tag
 * `tag`. The Dockerfile's dependency stage is tagged too, so that removing the images also
 * removes its layers.
 */
export async function buildImages(
  tag: string,
  which: readonly ("gatehouse" | "http" | "ws" | "tcp" | "socketProxy")[] = [
    "gatehouse",
    "http",
    "ws",
    "tcp",
    "socketProxy",
  ],
): Promise<Images> {
  const names = {
    gatehouse: `gatehouse:${tag}`,
    http: `gatehouse-demo-http:${tag}`,
    ws: `gatehouse-demo-ws:${tag}`,
    tcp: `gatehouse-demo-tcp:${tag}`,
    socketProxy: `gatehouse-socket-proxy:${tag}`,
  };
  const tagged: string[] = [];
  const remove = async () => {
    if (tagged.length > 0) await run("docker", ["rmi", "--force", ...tagged], { check: false });
  };
  try {
    if (which.includes("gatehouse")) {
      await build(tagged, ["--target", "deps", "--tag", `gatehouse-deps:${tag}`, "."]);
      await build(tagged, ["--tag", names.gatehouse, "."]);
    }
    const apps = { http: "http_app.ts", ws: "ws_app.ts", tcp: "tcp_echo.ts" } as const;
    for (const app of ["http", "ws", "tcp"] as const) {
      if (!which.includes(app)) continue;
      const probe = app === "tcp" ? ["--build-arg", "PROBE=tcp://127.0.0.1:7000"] : [];
      const args = ["--build-arg", `APP=${apps[app]}`, ...probe, "--tag", names[app]];
      await build(tagged, [...args, "e2e/apps"]);
    }
    if (which.includes("socketProxy")) {
      await build(tagged, ["--tag", names.socketProxy, "deploy/socket-proxy"]);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { tag, ...names, remove, [Symbol.asyncDispose]: remove };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined or false. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<Exclude<T, undefined | false>> {
  const end = Date.now() + timeoutMs;
  let last: unknown = undefined;
  while (true) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A test that starts Docker resources: `cleanup` undoes what was registered on it, last first,
 * however the test ends, and then removes `dir`, a fresh temporary directory. testcontainers and
 * the docker CLI keep sockets and timers of their own, so the sanitizers are off.
 */
export function dockerTest(
  name: string,
  fn: (t: Deno.TestContext, cleanup: AsyncDisposableStack, dir: string) => Promise<void>,
): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false }, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const dir = await Deno.makeTempDir({ prefix: "gatehouse-e2e-" });
    cleanup.defer(() => Deno.remove(dir, { recursive: true }));
    await fn(t, cleanup, dir);
  });
}

/** A TCP port that was free a moment ago on all host addresses. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
