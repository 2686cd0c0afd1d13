/**
 * A TLS listening endpoint with certificates chosen by SNI, that can change its certificates
 * without a restart.
 *
 * Two kinds of listener, chosen from the certificates (docs/tls.md):
 * - One certificate for every name (`CertStore.sole`): a plain `Deno.listenTls({cert, key})`.
 *   Deno builds one rustls ServerConfig for the listener, whose session cache lets returning
 *   clients resume (TLS 1.2 session IDs, TLS 1.3 tickets).
 * - Otherwise, Deno's SNI resolver (proxy/internal/). Deno builds a new ServerConfig for every
 *   handshake there, with an empty session cache of its own: nothing resumes. Deno resolves each
 *   name once per listener and caches the answer (failures too); the resolution gate covers a
 *   race in that cache, and rotating the listener bounds it when clients send many names.
 *
 * New certificates need a new listener either way: the endpoint opens a second listener on the
 * same port (SO_REUSEPORT), then closes the old one. Established connections are not touched.
 *
 * Every listener gets TCP_NODELAY in the step that opens it (proxy/internal/tcp_nodelay.ts):
 * Deno never sets it on TLS connections, and without it a response written in two pieces waits
 * for the client's delayed ACK. When it cannot be set (no --allow-ffi for the C library), TLS
 * works with that delay and the reason is logged once.
 *
 * Linux resets the connections still waiting in a listener's accept queue when it closes,
 * unless the sysctl `net.ipv4.tcp_migrate_req` is 1: then it moves them to the new listener, and
 * a rotation loses nothing. Gatehouse cannot tell which it is: Deno lets only --allow-all read
 * /proc/sys.
 */
import { listenTlsWithSni } from "../internal/deno_internals.ts";
import { listenWithNoDelay, type NoDelayResult } from "../internal/tcp_nodelay.ts";
import { log } from "../telemetry/log.ts";
import type { CertStore } from "./cert_store.ts";
import { type AcceptFailure, AcceptLoops } from "../net/accept.ts";
import { ResolutionGate } from "./resolution_gate.ts";

/** Distinct SNI names one listener resolves before it is replaced (bounds Deno's cache). */
const MAX_NAMES_PER_LISTENER = 10_000;

export interface TlsEndpointOptions {
  readonly hostname: string;
  readonly port: number;
  readonly alpn: readonly string[];
  readonly store: CertStore;
  readonly onConnection: (conn: Deno.TlsConn) => void;
  /** A failed accept that was not about one client (net/accept.ts). */
  readonly onAcceptFailure?: (failure: AcceptFailure) => void;
}

export class TlsEndpoint {
  readonly hostname: string;
  /** The bound port (the real one when the config said 0). */
  readonly port: number;
  readonly #alpn: string[];
  readonly #onConnection: (conn: Deno.TlsConn) => void;
  readonly #onAcceptFailure: ((failure: AcceptFailure) => void) | undefined;
  #store: CertStore;
  #listener: GatedListener;
  #names = 0;
  #closed = false;
  readonly #loops = new AcceptLoops();

  private constructor(opts: TlsEndpointOptions, port: number) {
    this.hostname = opts.hostname;
    this.#alpn = [...opts.alpn];
    this.#onConnection = opts.onConnection;
    this.#onAcceptFailure = opts.onAcceptFailure;
    this.#store = opts.store;
    this.#listener = this.#listen(port);
    this.port = (this.#listener.listener.addr as Deno.NetAddr).port;
  }

  /** Binds the address; throws a readable error when it is taken or not allowed. */
  static open(opts: TlsEndpointOptions): TlsEndpoint {
    const port = probePort(opts.hostname, opts.port);
    const endpoint = new TlsEndpoint(opts, port);
    endpoint.#accept(endpoint.#listener);
    return endpoint;
  }

  /** Uses `store` for new handshakes; open connections keep their certificate. */
  setCertificates(store: CertStore): void {
    if (store.fingerprint === this.#store.fingerprint) {
      this.#store = store;
      return;
    }
    this.#store = store;
    this.#rotate();
  }

  close(): void {
    this.#closed = true;
    releasePort(this.hostname, this.port);
    closeListener(this.#listener);
  }

  /** After `close`: resolves once its sockets are closed (net/accept.ts, AcceptLoops). */
  closed(): Promise<void> {
    return this.#loops.ended();
  }

  #listen(port: number): GatedListener {
    const sole = this.#store.sole;
    if (sole !== null) {
      const listener = withNoDelay(() =>
        Deno.listenTls({
          hostname: this.hostname,
          port,
          cert: sole.cert,
          key: sole.key,
          alpnProtocols: this.#alpn,
          reusePort: true,
        })
      );
      return { listener, gate: null };
    }
    this.#names = 0;
    const gate = new ResolutionGate();
    const listener = withNoDelay(() =>
      listenTlsWithSni({
        hostname: this.hostname,
        port,
        alpnProtocols: this.#alpn,
        reusePort: true,
        resolve: (serverName) => {
          if (++this.#names === MAX_NAMES_PER_LISTENER) queueMicrotask(() => this.#rotate());
          const pair = this.#store.lookup(serverName);
          if (pair === null) throw new Error(`no certificate for server name "${serverName}"`);
          return gate.answer(pair);
        },
      })
    );
    return { listener, gate };
  }

  #rotate(): void {
    if (this.#closed) return;
    const old = this.#listener;
    this.#listener = this.#listen(this.port);
    this.#accept(this.#listener);
    closeListener(old);
  }

  #accept({ listener, gate }: GatedListener): void {
    this.#loops.start(
      listener,
      (conn) => {
        gate?.watch(conn);
        this.#onConnection(conn);
      },
      gate ?? undefined,
      this.#onAcceptFailure,
    );
  }
}

let noDelayFailed = false;

/**
 * Whether this isolate reports a listener without TCP_NODELAY. Every worker of a process has
 * the same permissions and C library, so only the first worker says it (worker.ts).
 */
export function setNoDelayReport(on: boolean): void {
  noDelayFailed = !on;
}

/** `open`'s listener with TCP_NODELAY on its socket; logs the first failure only. */
function withNoDelay(open: () => Deno.TlsListener): Deno.TlsListener {
  const { listener, noDelay } = listenWithNoDelay(open);
  if (!noDelay.ok) noDelayFailure(noDelay);
  return listener;
}

function noDelayFailure(result: NoDelayResult & { ok: false }): void {
  if (noDelayFailed) return;
  noDelayFailed = true;
  log("tls").warn(
    `TLS responses may wait on the client's delayed ACKs (about 40 ms each): Cannot set ` +
      `TCP_NODELAY on TLS listeners: ${result.reason} (docs/known-limits.md)`,
  );
}

/** A listener and the gate of its first resolutions (resolution_gate.ts; null: no resolver). */
interface GatedListener {
  readonly listener: Deno.TlsListener;
  readonly gate: ResolutionGate | null;
}

function closeListener({ listener, gate }: GatedListener): void {
  try {
    listener.close();
  } catch {
    // already closed
  }
  gate?.resume();
}

/**
 * Fails early with a clear message if the port is in use: listeners share ports through
 * SO_REUSEPORT, which would otherwise let a second Gatehouse silently take half the traffic.
 * Port 0 needs no probe (the kernel picks a free port), and probing it would open a window in
 * which another process could take the port between the probe and the bind.
 */
export function probePort(hostname: string, port: number): number {
  if (!probing || port === 0 || released.has(`${hostname}:${port}`)) return port;
  const probe = Deno.listen({ hostname, port });
  const bound = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return bound;
}

/** Whether listeners probe their port first (see `setPortProbes`). */
let probing = true;

/**
 * Turns the start-up probe off (or on again). Worker isolates other than the first bind ports
 * the first one probed and already holds: for them a probe would always fail.
 */
export function setPortProbes(on: boolean): void {
  probing = on;
}

/** Ports our own listeners closed in the code running now (cleared by a microtask). */
const released = new Set<string>();

/**
 * Marks a port our listener is closing: a listener with a pending accept lets go of its socket
 * only on the next turn, so a reload that replaces it (same port, another kind of listener)
 * binds beside it with SO_REUSEPORT instead of probing, which would fail.
 */
export function releasePort(hostname: string, port: number): void {
  const key = `${hostname}:${port}`;
  if (released.size === 0) queueMicrotask(() => released.clear());
  released.add(key);
}
