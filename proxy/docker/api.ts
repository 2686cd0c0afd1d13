/**
 * A client of the Docker Engine API that can only read: every request is a GET (the one method
 * written below), on a unix socket or TCP (to a socket proxy), through Gatehouse's own HTTP/1.1
 * client (proto/h1/client.ts) on a fresh connection each time. Gatehouse uses three endpoints:
 * `/version`, `/containers/json` and the `/events` stream.
 *
 * Tested by api_test.ts against a Docker API served on a unix socket and on TCP, and by the e2e
 * tests against the real engine behind a socket proxy that refuses everything but GET.
 *
 * @module
 */
import type { DockerEndpoint } from "../config/types.ts";
import { HeaderList } from "../proto/header_list.ts";
import { type BodyReader, readWhole } from "../proto/message.ts";
import { exchange } from "../proto/h1/client.ts";
import { BufferedConn, type ByteConn } from "../net/buffered_conn.ts";

/** A request to the Docker API failed: it could not be reached, or it said no. */
export class DockerApiError extends Error {}

/** One event of the `/events` stream (the parts Gatehouse reads). */
export interface DockerEvent {
  readonly Type: string;
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
}

/** Largest JSON answer read (a container list of thousands of containers fits). */
const MAX_BODY = 32 * 1024 * 1024;
/** Largest single event line. */
const MAX_EVENT = 1024 * 1024;

export interface DockerApiOptions {
  /** Limit for a whole request, and for the events stream's response head (default 10 s). */
  readonly timeoutMs?: number;
}

/** `unix:///var/run/docker.sock` or `tcp://docker-api:2375`, for messages. */
export function describeEndpoint(endpoint: DockerEndpoint): string {
  if (endpoint.transport === "unix") return `unix://${endpoint.path}`;
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  return `tcp://${host}:${endpoint.port}`;
}

/** Reads the Docker Engine API at `endpoint`, with GET requests only. */
export class DockerApi {
  readonly endpoint: DockerEndpoint;
  readonly #timeoutMs: number;

  constructor(endpoint: DockerEndpoint, options: DockerApiOptions = {}) {
    this.endpoint = endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** `GET path` answered with JSON; throws DockerApiError. */
  async json(path: string, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const res = await this.#get(path, both);
    const text = await readText(res.body, MAX_BODY, path);
    if (res.status !== 200) throw new DockerApiError(refusal(path, res.status, text));
    try {
      return JSON.parse(text);
    } catch {
      throw new DockerApiError(`Cannot read GET ${path}: the answer is not JSON`);
    }
  }

  /**
   * Subscribes to `/events` with `filters`; resolves once the engine accepted (so nothing that
   * happens afterwards is missed) with the events as they come. The stream ends when `signal`
   * aborts or the connection is lost (then the iterator throws).
   */
  async events(
    filters: Readonly<Record<string, readonly string[]>>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<DockerEvent>> {
    const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`;
    const head = AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]);
    const subscribed = new AbortController();
    const stop = () => subscribed.abort(signal.reason);
    head.addEventListener("abort", stop, { once: true });
    let res;
    try {
      res = await this.#get(path, subscribed.signal);
    } finally {
      head.removeEventListener("abort", stop);
    }
    signal.addEventListener("abort", stop, { once: true });
    if (res.status !== 200) {
      const text = await readText(res.body, MAX_BODY, path).catch(() => "");
      throw new DockerApiError(refusal("/events", res.status, text));
    }
    return eventLines(res.body, signal);
  }

  /** The one request this client makes: GET, on a new connection closed afterwards. */
  async #get(path: string, signal: AbortSignal) {
    let conn: ByteConn;
    try {
      conn = this.endpoint.transport === "unix"
        ? await Deno.connect({ transport: "unix", path: this.endpoint.path })
        : await Deno.connect({
          hostname: this.endpoint.hostname,
          port: this.endpoint.port,
          signal,
        });
    } catch (err) {
      throw new DockerApiError(
        `Cannot connect to the Docker API at ${describeEndpoint(this.endpoint)}: ` +
          (err as Error).message,
      );
    }
    const io = new BufferedConn(conn);
    const lease = { io, reused: false, setDeadline() {}, release: () => io.close() };
    const headers = new HeaderList();
    headers.appendLower("user-agent", "Gatehouse");
    headers.appendLower("accept", "application/json");
    headers.appendLower("connection", "close");
    const host = this.endpoint.transport === "unix" ? "docker" : this.endpoint.hostname;
    try {
      return await exchange(lease, { method: "GET", target: path, host, headers, body: null }, {
        responseHeaderMs: 0,
        bodyIdleMs: 0,
        maxHeaderBytes: 64 * 1024,
        signal,
      });
    } catch (err) {
      io.close();
      const why = signal.aborted ? "no answer in time" : (err as Error).message;
      throw new DockerApiError(
        `Cannot GET ${path.split("?")[0]} from the Docker API at ` +
          `${describeEndpoint(this.endpoint)}: ${why}`,
      );
    }
  }
}

function refusal(path: string, status: number, body: string): string {
  let message = body.trim();
  try {
    message = String(JSON.parse(body).message ?? message);
  } catch {
    // not JSON: keep the text
  }
  const hint = status === 403 || status === 405
    ? " (a socket proxy must allow GET on /version, /containers/json and /events)"
    : "";
  return `Cannot GET ${path.split("?")[0]}: the Docker API answered ${status}` +
    `${message ? ` "${message.slice(0, 200)}"` : ""}${hint}`;
}

async function readText(body: BodyReader | null, limit: number, path: string): Promise<string> {
  const all = await readWhole(body, limit);
  if (all === null) {
    throw new DockerApiError(`Cannot read GET ${path}: the answer is larger than ${limit} bytes`);
  }
  return new TextDecoder().decode(all);
}

/** The newline-separated JSON objects of the events body, one event each. */
async function* eventLines(
  body: BodyReader | null,
  signal: AbortSignal,
): AsyncGenerator<DockerEvent> {
  if (body === null) return;
  const decoder = new TextDecoder();
  let pending = "";
  try {
    while (true) {
      const chunk = await body.read();
      if (chunk === null) {
        if (signal.aborted) return;
        throw new DockerApiError("the Docker API closed the events stream");
      }
      pending += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== "") yield JSON.parse(line) as DockerEvent;
      }
      if (pending.length > MAX_EVENT) throw new DockerApiError("an event is larger than 1 MiB");
    }
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof DockerApiError) throw err;
    throw new DockerApiError(`the events stream failed: ${(err as Error).message}`);
  } finally {
    body.cancel();
  }
}
