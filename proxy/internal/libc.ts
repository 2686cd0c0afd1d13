/**
 * The C library over FFI, for what Deno 2.9.6 has no API for: TCP_NODELAY on TLS listeners
 * (tcp_nodelay.ts), the open-file limit (open_files.ts), and the memory limit (memory_limit.ts:
 * Deno lets only --allow-all read /proc and /sys). Loaded once, when first needed.
 *
 * Needs `--allow-ffi` for the library's path (`libcPath` lists where it is looked for; `deno task
 * start` and the image allow exactly those); without it `libc()` says why, and each caller
 * degrades and logs it.
 *
 * @module
 */

const O_CLOEXEC = 0o2000000;
/** Offsets in Linux's `struct linux_dirent64`: d_reclen (u16), then d_name. */
const DIRENT_RECLEN = 16;
const DIRENT_NAME = 19;

const SYMBOLS = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  sysconf: { parameters: ["i32"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The C library's paths this process may load, in the order they are tried. */
export function libcPath(): string[] {
  const arch = Deno.build.arch;
  return [`/lib/${arch}-linux-gnu/libc.so.6`, "/lib64/libc.so.6", "/usr/lib/libc.so.6"];
}

let loaded: { libc: Libc } | { reason: string } | undefined;

function load(): { libc: Libc } | { reason: string } {
  if (Deno.build.os !== "linux") return { reason: `not available on ${Deno.build.os}` };
  const tried: string[] = [];
  for (const path of libcPath()) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
      tried.push(`${path}: not allowed`);
      continue;
    }
    try {
      return { libc: Deno.dlopen(path, SYMBOLS).symbols };
    } catch (err) {
      tried.push(`${path}: ${(err as Error).message}`);
    }
  }
  return {
    reason: `no C library could be loaded (${tried.join("; ")}); run Gatehouse with ` +
      `--allow-ffi=${libcPath()[0]} (the path of libc.so.6 on this system)`,
  };
}

/** The loaded C library, or why it could not be loaded (the answer is kept). */
export function libc(): { libc: Libc } | { reason: string } {
  return loaded ??= load();
}

/**
 * The calling thread's errno. Memory behind a pointer is copied out with memcpy: reading it with
 * Deno.UnsafePointerView needs --allow-ffi without a path.
 */
export function errno(c: Libc): number {
  const out = new Int32Array(1);
  const p = c.__errno_location();
  if (p !== null) c.memcpy(out, p, 4n);
  return out[0];
}

/**
 * The text of a small file (at most `max` bytes), read through the C library: Deno lets only
 * --allow-all read /proc and /sys. Null when it cannot be opened or read.
 */
export function readSmallFile(c: Libc, path: string, max = 16 * 1024): string | null {
  const fd = c.open(new TextEncoder().encode(path + "\0"), O_CLOEXEC);
  if (fd < 0) return null;
  const buf = new Uint8Array(max);
  let used = 0;
  try {
    while (used < max) {
      const n = Number(c.read(fd, buf.subarray(used), BigInt(max - used)));
      if (n < 0) return null;
      if (n === 0) break;
      used += n;
    }
  } finally {
    c.close(fd);
  }
  return new TextDecoder().decode(buf.subarray(0, used));
}

/**
 * This process's open file descriptors (getdents64 on /proc/self/fd, into our own buffer: Deno
 * lets only --allow-all read that directory).
 */
export function openFds(c: Libc): number[] {
  const dir = c.open(new TextEncoder().encode("/proc/self/fd\0"), O_CLOEXEC);
  if (dir < 0) throw new Error(`Cannot list /proc/self/fd: open failed (errno ${errno(c)})`);
  const fds: number[] = [];
  const buf = new Uint8Array(32 * 1024);
  const view = new DataView(buf.buffer);
  try {
    while (true) {
      const n = Number(c.getdents64(dir, buf, BigInt(buf.length)));
      if (n < 0) {
        throw new Error(`Cannot list /proc/self/fd: getdents64 failed (errno ${errno(c)})`);
      }
      if (n === 0) break;
      for (let at = 0; at < n; at += view.getUint16(at + DIRENT_RECLEN, true)) {
        let fd = 0;
        let digits = 0;
        for (let i = at + DIRENT_NAME; buf[i] >= 48 && buf[i] <= 57; i++, digits++) {
          fd = fd * 10 + buf[i] - 48;
        }
        if (digits > 0 && buf[at + DIRENT_NAME + digits] === 0 && fd !== dir) fds.push(fd);
      }
    }
  } finally {
    c.close(dir);
  }
  return fds;
}
