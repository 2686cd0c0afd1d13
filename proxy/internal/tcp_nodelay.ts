/**
 * TCP_NODELAY for TLS listeners, which Deno 2.9.6 has no API for: `Deno.listenTls` never sets it
 * on the connections it accepts, and `TlsConn` has no `setNoDelay` (docs/runtime.md, "The
 * paced-TLS delay"). Without it a response written in two pieces waits for the client's delayed
 * ACK (about 40 ms), and so does the server's last flight of a full TLS 1.2 handshake.
 *
 * Linux copies TCP_NODELAY from a listening socket to every socket it accepts afterwards, so
 * `listenWithNoDelay(open)` sets it once on the listening socket `open` creates, through libc
 * over FFI, in the same synchronous step (a connection whose TCP handshake completed before the
 * call would keep Nagle's algorithm). Deno exposes no file descriptor, so it is found: Linux
 * gives a new socket the lowest free descriptor, so the one free just before `open` is checked
 * first (getsockname: the port; SO_ACCEPTCONN: listening); when another thread took it, every
 * descriptor in /proc/self/fd is looked at (getdents64 through libc as well: Deno lets only
 * --allow-all read that directory), a few microseconds each.
 *
 * Needs `--allow-ffi` for the C library (libc.ts: `libcPath` lists where it is looked for); without it the
 * result says why, and the caller logs it (TLS then works, with the delay).
 *
 * `tcp_nodelay_test.ts` fails loudly when an upgrade breaks any of this, or makes it needless.
 *
 * @module
 */
import { errno, type Libc, libc, openFds } from "./libc.ts";

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ACCEPTCONN = 30;
const SOCK_STREAM = 1;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** Set on the listening socket(s), or why not. */
export type NoDelayResult =
  | { readonly ok: true; readonly sockets: number }
  | { readonly ok: false; readonly reason: string };

/** Scratch for the calls below (one thread runs them: no sharing). */
const addr = new Uint8Array(128);
const addrLen = new Uint32Array(1);
const value = new Int32Array(1);
const valueLen = new Uint32Array(1);

/** The TCP port of `fd`'s local (or peer) address, or -1 when it is not an IP socket. */
function portOf(c: Libc, fd: number, side: "local" | "peer"): number {
  addrLen[0] = addr.length;
  const rc = side === "local" ? c.getsockname(fd, addr, addrLen) : c.getpeername(fd, addr, addrLen);
  if (rc !== 0) return -1;
  const family = addr[0] | (addr[1] << 8);
  if (family !== AF_INET && family !== AF_INET6) return -1;
  return (addr[2] << 8) | addr[3];
}

function intOption(c: Libc, fd: number, level: number, name: number): number {
  valueLen[0] = 4;
  if (c.getsockopt(fd, level, name, value, valueLen) !== 0) {
    throw new Error(`Cannot read socket option ${level}/${name} of fd ${fd}: errno ${errno(c)}`);
  }
  return value[0];
}

/** True when `fd` is a TCP socket listening on `port`. */
function listensOn(c: Libc, fd: number, port: number): boolean {
  return portOf(c, fd, "local") === port && intOption(c, fd, SOL_SOCKET, SO_TYPE) === SOCK_STREAM &&
    intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1;
}

/** The descriptor the next socket will get (the lowest free one), or -1 when unknown. */
function nextFd(c: Libc): number {
  const fd = c.dup(2);
  if (fd >= 0) c.close(fd);
  return fd;
}

const ONE = new Int32Array([1]);

function setNoDelay(c: Libc, fd: number): void {
  if (c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, ONE, 4) !== 0) {
    throw new Error(`setsockopt(TCP_NODELAY) on fd ${fd} failed: errno ${errno(c)}`);
  }
}

/**
 * Sets TCP_NODELAY on every socket of this process listening on `port`, so that the connections
 * they accept from now on have it. Never throws: the result says what went wrong.
 */
export function setNoDelayOnListeners(port: number): NoDelayResult {
  const lib = libc();
  if ("reason" in lib) return { ok: false, reason: lib.reason };
  const c = lib.libc;
  try {
    const fds = openFds(c).filter((fd) => listensOn(c, fd, port));
    if (fds.length === 0) {
      return { ok: false, reason: `no listening socket on port ${port} among the open files` };
    }
    for (const fd of fds) setNoDelay(c, fd);
    return { ok: true, sockets: fds.length };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * Opens a listener with `open` and sets TCP_NODELAY on its socket before anything else runs
 * (see the module doc). Throws what `open` throws; otherwise the result says whether it worked.
 */
export function listenWithNoDelay<L extends Deno.Listener>(
  open: () => L,
): { readonly listener: L; readonly noDelay: NoDelayResult } {
  const lib = libc();
  if ("reason" in lib) return { listener: open(), noDelay: { ok: false, reason: lib.reason } };
  const c = lib.libc;
  const predicted = nextFd(c);
  const listener = open();
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    if (predicted >= 0 && listensOn(c, predicted, port)) {
      setNoDelay(c, predicted);
      return { listener, noDelay: { ok: true, sockets: 1 } };
    }
  } catch (err) {
    return { listener, noDelay: { ok: false, reason: (err as Error).message } };
  }
  return { listener, noDelay: setNoDelayOnListeners(port) };
}

/** A TCP socket of this process, as the kernel sees it. */
export interface TcpSocket {
  readonly localPort: number;
  /** Null for a listening socket. */
  readonly peerPort: number | null;
  readonly noDelay: boolean;
}

/**
 * Every TCP socket of this process with its TCP_NODELAY (how tests check what listeners and the
 * connections they accepted got). Throws when the C library cannot be loaded.
 */
export function tcpSockets(): TcpSocket[] {
  const lib = libc();
  if ("reason" in lib) throw new Error(`Cannot list TCP sockets: ${lib.reason}`);
  const c = lib.libc;
  const out: TcpSocket[] = [];
  for (const fd of openFds(c)) {
    const localPort = portOf(c, fd, "local");
    if (localPort < 0 || intOption(c, fd, SOL_SOCKET, SO_TYPE) !== SOCK_STREAM) continue;
    const listening = intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1;
    out.push({
      localPort,
      peerPort: listening ? null : portOf(c, fd, "peer"),
      noDelay: intOption(c, fd, IPPROTO_TCP, TCP_NODELAY) !== 0,
    });
  }
  return out;
}
