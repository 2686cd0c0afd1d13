/**
 * TCP_NODELAY for TLS listeners in Deno 2.9.6, which has no API for it: `Deno.listenTls`,
 * `Deno.serve({cert, key})` and the connections they accept never set it, and `TlsConn` has no
 * `setNoDelay`. Linux copies TCP_NODELAY from a listening socket to every socket it accepts, so
 * setting it once on the listener's file descriptor (found through /proc/self, set with
 * setsockopt through FFI) gives every TLS connection of that listener TCP_NODELAY.
 *
 * Needs --allow-ffi and --allow-read=/proc/self. Used by tls_paced_server.ts (docs/runtime.md,
 * question 2). Result (2026-12-06, Deno 2.9.6): after `setNoDelayOnListeners` the socket of a TLS
 * connection accepted later reads TCP_NODELAY 1 with getsockopt (0 without), and the 44 ms stall
 * of a two-write TLS response drops to 0.6-0.7 ms.
 *
 * @module
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

let libc:
  | Deno.DynamicLibrary<{
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"]; result: "i32" };
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"]; result: "i32" };
  }>
  | undefined;

function symbols() {
  libc ??= Deno.dlopen("libc.so.6", {
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  return libc.symbols;
}

/** Socket inodes of this process's TCP sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1].endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]);
    }
  }
  return inodes;
}

/** File descriptors of this process's listening sockets on `port`. */
export function listenerFds(port: number): number[] {
  const inodes = listeningInodes(port);
  const fds: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      const m = target.match(/^socket:\[(\d+)\]$/);
      if (m && inodes.has(m[1])) fds.push(Number(entry.name));
    } catch {
      // the descriptor closed while we looked
    }
  }
  return fds;
}

/** Sets TCP_NODELAY on `fd`; throws with errno's meaning left to the caller. */
export function setNoDelayFd(fd: number): void {
  const one = new Int32Array([1]);
  const rc = symbols().setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4);
  if (rc !== 0) throw new Error(`Cannot set TCP_NODELAY on fd ${fd}: setsockopt returned ${rc}`);
}

/** Reads TCP_NODELAY of `fd`. */
export function noDelayOf(fd: number): boolean {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  const rc = symbols().getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, value, len);
  if (rc !== 0) throw new Error(`Cannot read TCP_NODELAY of fd ${fd}: getsockopt returned ${rc}`);
  return value[0] !== 0;
}

/** Sets TCP_NODELAY on every listening socket of this process on `port`; returns their fds. */
export function setNoDelayOnListeners(port: number): number[] {
  const fds = listenerFds(port);
  if (fds.length === 0) throw new Error(`Cannot set TCP_NODELAY: no listening socket on ${port}`);
  for (const fd of fds) setNoDelayFd(fd);
  return fds;
}
