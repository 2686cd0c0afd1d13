/**
 * What every entrypoint listener shares, HTTP or TCP: admission of new connections under the
 * connection limits, the text of a bind failure, the reload contract (apply a changed
 * entrypoint in place when the listener can take it, else the runtime opens a new one), and
 * close (stop accepting; open connections drain through the connection registry).
 *
 * Tested by listener_test.ts.
 */
import type { Config, Entrypoint } from "../config/types.ts";
import type { ConnectionRegistry } from "../net/connections.ts";
import type { ListenerKind } from "./listener_kind.ts";

/** Why a connection was refused at accept time (bounded, for metrics). */
export type Refusal = "draining" | "max_connections" | "entrypoint_max_connections";

export interface ListenerDeps {
  readonly registry: ConnectionRegistry;
  /** A connection refused at accept time (the listener already closed it). */
  readonly onRefused: (entrypoint: string, refusal: Refusal, detail: string) => void;
}

export abstract class Listener {
  readonly name: string;
  readonly kind: ListenerKind;
  config: Entrypoint;
  /** The bound port (differs from the config only when it said 0). */
  abstract readonly port: number;
  protected readonly registry: ConnectionRegistry;
  readonly #onRefused: ListenerDeps["onRefused"];

  constructor(config: Entrypoint, kind: ListenerKind, deps: ListenerDeps) {
    this.name = config.name;
    this.kind = kind;
    this.config = config;
    this.registry = deps.registry;
    this.#onRefused = deps.onRefused;
  }

  /** True when `next`, needing a listener of `kind`, can be applied without a new listener. */
  abstract canUpdate(next: Entrypoint, kind: ListenerKind): boolean;
  /** Applies a changed entrypoint (new certificates apply to new handshakes). */
  abstract update(next: Entrypoint): void;
  /** Certificates obtained at run time changed: new handshakes see them. */
  abstract refreshCertificates(): void;
  /** Stops accepting; open connections are left to drain. */
  abstract close(): void;

  /**
   * Admits a new connection under the limits of `config` (null), or closes it, reports the
   * refusal and returns why.
   */
  protected refuse(conn: { close(): void }, config: Config): string | null {
    const refused = this.#refusal(config);
    if (refused === null) return null;
    try {
      conn.close();
    } catch {
      // already closed
    }
    this.#onRefused(this.name, refused.refusal, refused.detail);
    return refused.detail;
  }

  /** True when the address and TLS-ness of `next` fit the bound listener. */
  protected sameAddress(next: Entrypoint): boolean {
    const a = this.config.address;
    const b = next.address;
    const samePort = b.port === this.port || b.port === 0 || a.port === b.port;
    return a.hostname === b.hostname && samePort &&
      (this.config.tls === null) === (next.tls === null);
  }

  #refusal(config: Config): { refusal: Refusal; detail: string } | null {
    const max = config.limits.maxConnections;
    const own = this.config.maxConnections;
    if (this.registry.draining) return { refusal: "draining", detail: "shutting down" };
    if (max > 0 && this.registry.size >= max) {
      const detail = `${max} connections are open (limits.max_connections)`;
      return { refusal: "max_connections", detail };
    }
    if (own > 0 && this.registry.count(this.name) >= own) {
      const detail = `${own} connections are open on this entrypoint (max_connections)`;
      return { refusal: "entrypoint_max_connections", detail };
    }
    return null;
  }
}

/** Runs `bind`, turning a failure into "Cannot listen on host:port for entrypoint ...: why". */
export function bindOrExplain<T>(config: Entrypoint, bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    const { hostname, port } = config.address;
    throw new Error(
      `Cannot listen on ${hostname}:${port} for entrypoint "${config.name}": ${bindReason(err)}`,
    );
  }
}

/** Why a listener could not bind, for "Cannot listen on ...". */
function bindReason(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) {
    return "the address is already in use (another Gatehouse, or another server, holds the port)";
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; or run with --allow-net)";
  }
  if (err instanceof Deno.errors.AddrNotAvailable) return "that address is not on this machine";
  return err instanceof Error ? err.message : String(err);
}
