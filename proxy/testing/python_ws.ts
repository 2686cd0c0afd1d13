/**
 * WebSocket peers of another implementation than Deno's: python3-websockets (Debian), driven
 * through `ws_peer.py`. The server echoes and reports each finished session; the client runs one
 * named scenario and reports its result.
 *
 * ```ts
 * await using up = await pythonWsServer();
 * const result = await pythonWsClient(`ws://127.0.0.1:${port}/`, "echo");
 * assert.equal(result.ok, true);
 * ```
 *
 * @module
 */
import { SYSTEM_PYTHON } from "./prometheus.ts";
import { waitFor } from "./servers.ts";
import { jsonLinePeer } from "./json_line_peer.ts";

const PEER = new URL("./ws_peer.py", import.meta.url).pathname;

/** One finished session as the python server saw it. */
export interface PeerSession {
  readonly path: string;
  /** Request fields as received, names as sent. */
  readonly headers: [string, string][];
  readonly subprotocol: string | null;
  /** Sec-WebSocket-Extensions of the server's 101 answer. */
  readonly extensions: string | null;
  readonly close_code: number;
  readonly close_reason: string;
  /** Data messages received (commands excluded). */
  readonly messages: number;
  /** Size and SHA-256 of every message of 1 MiB or more. */
  readonly large: { size: number; sha256: string }[];
}

export interface PythonWsServer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Sessions that ended, in the order they ended. */
  readonly sessions: PeerSession[];
  /** Waits until `n` sessions have ended. */
  ended(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the python echo server; `protocols` are the subprotocols it accepts. */
export async function pythonWsServer(protocols: string[] = []): Promise<PythonWsServer> {
  const args = [
    PEER,
    "serve",
    ...(protocols.length > 0 ? ["--protocols", protocols.join(",")] : []),
  ];
  const peer = await jsonLinePeer<PeerSession>(args, "the python WebSocket server");
  const sessions = peer.records;
  return {
    port: peer.port,
    url: `http://127.0.0.1:${peer.port}`,
    sessions,
    ended: (n, timeoutMs = 10_000) =>
      waitFor(() => sessions.length >= n, `${n} python sessions to end`, timeoutMs),
    close: peer.close,
    [Symbol.asyncDispose]: peer.close,
  };
}

export type Scenario =
  | "echo"
  | "big"
  | "deflate"
  | "fragments"
  | "close"
  | "server-close"
  | "ordered";

export interface PythonClientOptions {
  /** CA file for wss:// URLs. */
  readonly cafile?: string;
  readonly protocols?: string[];
  /** Extra request fields, "Name: value". */
  readonly headers?: string[];
  /** Message size for big/deflate. */
  readonly size?: number;
  /** Messages for ordered. */
  readonly count?: number;
  /** Close code and reason for close/server-close. */
  readonly code?: number;
  readonly reason?: string;
  /** Do not offer permessage-deflate. */
  readonly noCompression?: boolean;
}

/** What a scenario reported; `ok` is false when it failed or the handshake was refused. */
export interface ScenarioResult {
  readonly ok: boolean;
  /** The status of a refused handshake. */
  readonly refused?: number;
  readonly subprotocol?: string | null;
  readonly extensions?: string | null;
  readonly [key: string]: unknown;
}

/** Runs one client scenario of ws_peer.py against `url` and returns its report. */
export async function pythonWsClient(
  url: string,
  scenario: Scenario,
  options: PythonClientOptions = {},
): Promise<ScenarioResult> {
  const args = [PEER, "client", url, scenario];
  if (options.cafile) args.push("--cafile", options.cafile);
  if (options.protocols) args.push("--protocols", options.protocols.join(","));
  for (const h of options.headers ?? []) args.push("--header", h);
  if (options.size !== undefined) args.push("--size", String(options.size));
  if (options.count !== undefined) args.push("--count", String(options.count));
  if (options.code !== undefined) args.push("--code", String(options.code));
  if (options.reason !== undefined) args.push("--reason", options.reason);
  if (options.noCompression) args.push("--no-compression");
  const out = await new Deno.Command(SYSTEM_PYTHON, { args, stdin: "null" }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (stdout === "") {
    throw new Error(
      `Cannot run the python scenario "${scenario}": ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(stdout.split("\n").at(-1)!);
}
