/**
 * What every entrypoint listener shares, HTTP or TCP: admission of new connections under the
 * connection limits, the text of a bind failure, the reload contract (apply a changed
 * entrypoint in place when the listener can take it, else the runtime opens a new one), and
 * close (stop accepting; open connections drain through the connection registry). Before
 * listeners bind, `prepareSockets` removes stale unix socket files.
 *
 * Tested by listener_test.ts.
 */
import type { Config, Entrypoint } from "../config/types.ts";
import type { AcceptFailure } from "../net/accept.ts";
import type { ConnectionRegistry } from "../net/connections.ts";
import { limitOf } from "../net/connection_counts.ts";
import { removeStaleSocket, socketInUseReason } from "../net/unix_socket.ts";
import type { ListenerKind } from "./listener_kind.ts";

/** Where internal TLS listeners bind (behind a relay: see tls/relay.ts). */
export const INTERNAL_ADDRESS = { hostname: "127.0.0.1", port: 0 } as const;

/** `entrypoint` as its internal TLS listener sees it: on INTERNAL_ADDRESS, not on a socket. */
export function internalOf(entrypoint: Entrypoint): Entrypoint {
  return { ...entrypoint, address: INTERNAL_ADDRESS, unix: null };
}

/** Why a connection was refused at accept time (bounded, for metrics). */
export type Refusal =
  | "draining"
  | "max_connections"
  | "entrypoint_max_connections"
  | "max_connections_per_client";

export interface ListenerDeps {
  readonly registry: ConnectionRegistry;
  /** A connection refused at accept time (the listener already closed it). */
  readonly onRefused: (entrypoint: string, refusal: Refusal, detail: string) => void;
  /**
   * An accept failed for a reason beyond one client (out of file descriptors, say); the client's
   * connection waits in the kernel's queue and is accepted once the reason is gone.
   */
  readonly onAcceptFailure?: (entrypoint: string, failure: AcceptFailure) => void;
  /**
   * What `limits.max_connections: auto` stands for (app/connection_budget.ts: what the memory
   * limit holds); 0 or absent = no limit.
   */
  readonly autoConnections?: number;
}

export abstract class Listener {
  readonly name: string;
  readonly kind: ListenerKind;
  config: Entrypoint;
  /** The bound port (differs from the config only when it said 0). */
  abstract readonly port: number;
  protected readonly registry: ConnectionRegistry;
  readonly #onRefused: ListenerDeps["onRefused"];
  readonly #autoConnections: number;
  /** For the accept loops of this listener's sockets (net/accept.ts). */
  protected readonly acceptFailed: (failure: AcceptFailure) => void;

  constructor(config: Entrypoint, kind: ListenerKind, deps: ListenerDeps) {
    this.name = config.name;
    this.kind = kind;
    this.config = config;
    this.registry = deps.registry;
    this.#onRefused = deps.onRefused;
    this.#autoConnections = deps.autoConnections ?? 0;
    this.acceptFailed = (failure) => deps.onAcceptFailure?.(this.name, failure);
  }

  /** True when `next`, needing a listener of `kind`, can be applied without a new listener. */
  abstract canUpdate(next: Entrypoint, kind: ListenerKind): boolean;
  /** Applies a changed entrypoint (new certificates apply to new handshakes). */
  abstract update(next: Entrypoint): void;
  /** Certificates obtained at run time changed: new handshakes see them. */
  abstract refreshCertificates(): void;
  /** Stops accepting; open connections are left to drain. */
  abstract close(): void;

  /** After `close`: resolves once this listener's sockets are closed (net/accept.ts). */
  closed(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Admits a new connection under the limits of `config` (null), or closes it, reports the
   * refusal and returns why. An admitted connection is counted at once (the limits hold across
   * worker isolates): the caller registers it in the same turn. `client` is the address it
   * counts against for `limits.max_connections_per_client` (by default its TCP peer's; a relayed
   * connection gives its client's; null: none).
   */
  protected refuse(
    conn: { close(): void; readonly remoteAddr?: Deno.Addr },
    config: Config,
    client: string | null = tcpPeer(conn.remoteAddr),
  ): string | null {
    const refused = this.#refusal(config, client);
    if (refused === null) return null;
    try {
      conn.close();
    } catch {
      // already closed
    }
    this.#onRefused(this.name, refused.refusal, refused.detail);
    return refused.detail;
  }

  /** True when the address (or socket path) and TLS-ness of `next` fit the bound listener. */
  protected sameAddress(next: Entrypoint): boolean {
    const a = this.config.address;
    const b = next.address;
    const samePort = b.port === this.port || b.port === 0 || a.port === b.port;
    return a.hostname === b.hostname && samePort &&
      this.config.unix?.path === next.unix?.path &&
      (this.config.tls === null) === (next.tls === null);
  }

  #refusal(config: Config, client: string | null): { refusal: Refusal; detail: string } | null {
    if (this.registry.draining) return { refusal: "draining", detail: "shutting down" };
    const set = config.limits.maxConnections;
    const max = limitOf(set, this.#autoConnections);
    const own = this.config.maxConnections;
    const perClient = config.limits.maxConnectionsPerClient;
    const hit = this.registry.admit(this.name, max, own, client, perClient);
    if (hit === "total") {
      const detail = set === "auto"
        ? `${max} connections are open (limits.max_connections: auto, what the memory limit ` +
          `holds; give the process more memory or set a number)`
        : `${max} connections are open (limits.max_connections)`;
      return { refusal: "max_connections", detail };
    }
    if (hit === "owner") {
      const detail = `${own} connections are open on this entrypoint (max_connections)`;
      return { refusal: "entrypoint_max_connections", detail };
    }
    if (hit === "client") {
      const detail = `${perClient} connections are open from ${client} ` +
        `(limits.max_connections_per_client)`;
      return { refusal: "max_connections_per_client", detail };
    }
    return null;
  }
}

/** The address of a TCP peer, or null (a unix socket's peer, a UDP "connection"). */
function tcpPeer(addr: Deno.Addr | undefined): string | null {
  return addr !== undefined && addr.transport === "tcp" ? addr.hostname : null;
}

/**
 * Runs `bind`, turning a failure into "Cannot listen on host:port for entrypoint ...: why" (or
 * "unix:/path").
 */
export function bindOrExplain<T>(config: Entrypoint, bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    const { hostname, port } = config.address;
    const where = config.unix === null ? `${hostname}:${port}` : `unix:${config.unix.path}`;
    throw new Error(
      `Cannot listen on ${where} for entrypoint "${config.name}": ${bindReason(err, config)}`,
    );
  }
}

/**
 * Removes the stale socket files (left by a process that crashed) of the unix socket
 * entrypoints of `config`, before its listeners bind; live sockets stay and make the bind fail.
 */
export async function prepareSockets(config: Config): Promise<void> {
  for (const ep of Object.values(config.entrypoints)) {
    if (ep.unix !== null) await removeStaleSocket(ep.unix.path);
  }
}

/** Why a listener could not bind, for "Cannot listen on ...". */
function bindReason(err: unknown, config: Entrypoint): string {
  if (err instanceof Deno.errors.AddrInUse) {
    if (config.unix !== null) return socketInUseReason(config.unix.path);
    return "the address is already in use (another Gatehouse, or another server, holds the port)";
  }
  if (
    config.unix !== null &&
    (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable)
  ) {
    return `permission denied (the process's user needs write permission on the directory, and ` +
      `Deno needs --allow-read and --allow-write for the path)`;
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; or run with --allow-net)";
  }
  if (config.unix !== null && err instanceof Deno.errors.NotFound) {
    return "its directory does not exist";
  }
  if (err instanceof Deno.errors.AddrNotAvailable) return "that address is not on this machine";
  return err instanceof Error ? err.message : String(err);
}
