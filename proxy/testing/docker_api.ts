/**
 * A Docker Engine API for tests, served over a real unix socket (or TCP on 127.0.0.1): the three
 * endpoints Gatehouse reads (`/version`, `/containers/json`, `/events`), answered from containers
 * the test adds and stops, with the events the engine sends for them. It records every request
 * and refuses anything but GET with 403, like a read-only socket proxy (and the paths in
 * `refuse`, like one that allows too little). The e2e tests run the
 * same provider against the real engine.
 *
 * @module
 */
import { join } from "node:path";

/** A container as the test describes it. */
export interface FakeContainer {
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Its address on network "apps" (default 127.0.0.1, where test servers listen). */
  readonly ip?: string;
  /** Exposed TCP ports (default [8000]). */
  readonly ports?: readonly number[];
  /** "healthy", "unhealthy", "starting" or none. */
  health?: string;
}

interface Entry extends FakeContainer {
  readonly id: string;
  readonly created: number;
}

export interface FakeDockerApi extends AsyncDisposable {
  /** "unix:///tmp/.../docker.sock" or "tcp://127.0.0.1:port". */
  readonly endpoint: string;
  /** Every request: "GET /containers/json", ... */
  readonly requests: string[];
  /** Requests refused because their method was not GET. */
  readonly refused: string[];
  /** Open `/events` streams. */
  readonly subscribers: number;
  /** Starts a container (the engine's create, network connect and start events). */
  run(container: FakeContainer): string;
  /**
   * `docker stop`: the kill event with SIGTERM, then (once `exited` resolves: the container
   * finished its requests) die, stop and destroy.
   */
  stop(id: string, exited?: Promise<void>): Promise<void>;
  /** Changes a container's health (a health_status event). */
  setHealth(id: string, health: string): void;
  /** Stops answering: closes the listener and every events stream (an engine restart). */
  down(): Promise<void>;
  /** Answers again at the same address. */
  up(): void;
  close(): Promise<void>;
}

/** Starts a fake Docker API on a unix socket in a temp dir (or TCP with `tcp: true`). */
export async function fakeDockerApi(
  options: { tcp?: boolean; refuse?: readonly string[] } = {},
): Promise<FakeDockerApi> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-docker-" });
  const path = join(dir, "docker.sock");
  const containers = new Map<string, Entry>();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const requests: string[] = [];
  const refused: string[] = [];
  let serial = 0;
  let port = 0;
  let server: Deno.HttpServer | null = null;

  const emit = (
    type: string,
    action: string,
    c: Entry,
    attributes: Record<string, string> = {},
  ) => {
    const actor = type === "network"
      ? { ID: "net-apps", Attributes: { container: c.id, name: "apps" } }
      : { ID: c.id, Attributes: { name: c.name, ...c.labels, ...attributes } };
    const line = JSON.stringify({ Type: type, Action: action, Actor: actor, time: Date.now() });
    const bytes = new TextEncoder().encode(line + "\n");
    for (const s of streams) s.enqueue(bytes);
  };

  const listed = () =>
    [...containers.values()].map((c) => ({
      Id: c.id,
      Names: [`/${c.name}`],
      Created: c.created,
      Labels: c.labels,
      State: "running",
      Status: c.health
        ? `Up 1 second (${c.health === "starting" ? "health: starting" : c.health})`
        : "Up 1 second",
      Ports: (c.ports ?? [8000]).map((p) => ({ PrivatePort: p, Type: "tcp" })),
      HostConfig: { NetworkMode: "apps" },
      NetworkSettings: {
        Networks: { apps: { IPAddress: c.ip ?? "127.0.0.1", GlobalIPv6Address: "" } },
      },
    }));

  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    requests.push(`${req.method} ${url.pathname}`);
    if (req.method !== "GET") {
      refused.push(`${req.method} ${url.pathname}`);
      return Response.json({ message: "this socket proxy forwards GET only" }, { status: 403 });
    }
    const path = url.pathname.replace(/^\/v[0-9.]+/, "");
    if (options.refuse?.includes(path)) {
      refused.push(`GET ${path}`);
      return Response.json({ message: "forbidden by the socket proxy" }, { status: 403 });
    }
    if (path === "/version") return Response.json({ Version: "20.10.24-fake", ApiVersion: "1.41" });
    if (path === "/containers/json") return Response.json(listed());
    if (path === "/events") {
      let controller: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          streams.add(c);
        },
        cancel() {
          streams.delete(controller);
        },
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    }
    return Response.json({ message: `page not found` }, { status: 404 });
  };

  const up = () => {
    if (server !== null) return;
    if (options.tcp) {
      server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
      port = (server.addr as Deno.NetAddr).port;
    } else {
      try {
        Deno.removeSync(path);
      } catch {
        // first start
      }
      server = Deno.serve({ path, onListen() {} }, handler);
    }
  };

  const down = async () => {
    for (const s of streams) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    streams.clear();
    const s = server;
    server = null;
    await s?.shutdown();
  };

  up();
  const endpoint = options.tcp ? `tcp://127.0.0.1:${port}` : `unix://${path}`;
  const close = async () => {
    await down();
    await Deno.remove(dir, { recursive: true });
  };
  return {
    endpoint,
    requests,
    refused,
    get subscribers() {
      return streams.size;
    },
    run(container) {
      serial++;
      const id = `${serial.toString(16).padStart(4, "0")}${"c".repeat(60)}`;
      const entry = { ...container, id, created: 1_700_000_000 + serial };
      emit("container", "create", entry);
      emit("network", "connect", entry);
      containers.set(id, entry);
      emit("container", "start", entry);
      return id;
    },
    async stop(id, exited) {
      const c = containers.get(id);
      if (!c) throw new Error(`Cannot stop ${id}: no such container`);
      emit("container", "kill", c, { signal: "15" });
      await exited;
      containers.delete(id);
      emit("container", "die", c, { exitCode: "0" });
      emit("network", "disconnect", c);
      emit("container", "stop", c);
      emit("container", "destroy", c);
    },
    setHealth(id, health) {
      const c = containers.get(id);
      if (!c) throw new Error(`Cannot change ${id}: no such container`);
      c.health = health;
      emit("container", `health_status: ${health}`, c);
    },
    down,
    up,
    close,
    [Symbol.asyncDispose]: close,
  };
}
