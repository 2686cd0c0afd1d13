/**
 * The open-file limit (RLIMIT_NOFILE) and the descriptors in use, which Deno 2.9.6 has no API
 * for, through the C library (libc.ts; needs the same `--allow-ffi` as TCP_NODELAY).
 *
 * Every client connection takes a descriptor, and so does each upstream connection, so the
 * limit bounds how many connections Gatehouse can hold. Deno raises the soft limit to the hard
 * one before any JavaScript runs (`raise_fd_limit` in its cli/util/unix.rs), so the hard limit
 * is the one that counts. Past it, accepts fail and wait (net/accept.ts) and new upstream
 * connections fail (answered 503, blaming no server), counted and logged.
 *
 * app/open_files_test.ts runs Gatehouse under low limits in a child process, and fails when
 * Deno stops raising the soft limit.
 *
 * @module
 */
import { errno, type Libc, libc, openFds } from "./libc.ts";

/** RLIMIT_NOFILE on Linux (x86_64 and aarch64 alike). */
const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
const EMFILE = 24;
const ENFILE = 23;

/** The soft and hard open-file limits (Infinity: unlimited). */
export interface OpenFileLimit {
  readonly soft: number;
  readonly hard: number;
}

const rlimit = new BigUint64Array(2);

function toNumber(v: bigint): number {
  return v === RLIM_INFINITY ? Infinity : Number(v);
}

function read(c: Libc): OpenFileLimit {
  if (c.getrlimit(RLIMIT_NOFILE, rlimit) !== 0) {
    throw new Error(`getrlimit(RLIMIT_NOFILE) failed: errno ${errno(c)}`);
  }
  return { soft: toNumber(rlimit[0]), hard: toNumber(rlimit[1]) };
}

/** The process's open-file limit, or null when the C library cannot be loaded. */
export function openFileLimit(): OpenFileLimit | null {
  const lib = libc();
  if ("reason" in lib) return null;
  try {
    return read(lib.libc);
  } catch {
    return null;
  }
}

/**
 * True when this process cannot open one more descriptor now (a probe: dup of stderr, closed at
 * once). A name lookup that needs a file or socket then fails as "Name or service not known",
 * which says nothing of the server; false when the C library cannot be loaded.
 */
export function outOfFiles(): boolean {
  const lib = libc();
  if ("reason" in lib) return false;
  const fd = lib.libc.dup(2);
  if (fd >= 0) {
    lib.libc.close(fd);
    return false;
  }
  const e = errno(lib.libc);
  return e === EMFILE || e === ENFILE;
}

/** True when `err` is the process (EMFILE) or the system (ENFILE) out of file descriptors. */
export function isOutOfFiles(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/**
 * True when an operation failed for want of descriptors: `err` says so, or none is left now
 * (then a name lookup, say, fails as "Name or service not known"). Such a failure is
 * Gatehouse's, never a server's.
 */
export function failedForWantOfFiles(err: unknown): boolean {
  return isOutOfFiles(err) || outOfFiles();
}

/**
 * Descriptors this process has open, or null when the C library cannot be loaded. Counting
 * needs a descriptor for /proc/self/fd: with none left, every one is open, and the soft limit is
 * the count (a scrape on a kept-alive connection must not read 0 then).
 */
export function openFileCount(): number | null {
  const lib = libc();
  if ("reason" in lib) return null;
  try {
    return openFds(lib.libc).length;
  } catch {
    return outOfFiles() ? openFileLimit()?.soft ?? null : null;
  }
}
