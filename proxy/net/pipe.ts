/**
 * A byte tunnel between two connections: each direction copies until end of stream and then
 * half-closes the other side, so a peer that shuts its write side still receives everything.
 * Each write completes before the next read, so memory stays bounded whatever the speeds.
 *
 * Buffers: each direction reads into a small buffer of its own; once a read fills it, the next
 * reads go into a large buffer from a pool (net/buffer_pool.ts), given back as soon as a read
 * comes back short. A tunnel that waits for data (an idle TCP connection, a WebSocket between
 * messages) holds two small buffers, and a bulk transfer reuses one large buffer per direction
 * instead of allocating (docs/runtime.md, section 3).
 *
 * A large buffer is held while its write waits, so a peer that stops reading keeps it: 832 TCP
 * connections from an upstream that floods to clients that read nothing (auto's bound in a
 * 200 MiB container) held 256 KiB each, and the kernel's OOM killer ended the process. So at most
 * LARGE_IN_USE tunnel buffers (256 KiB: a 1 GiB transfer moved 1,290 MiB/s on loopback, 1,050
 * with 64 KiB reads and a third more CPU) are out at once in an isolate; past them a direction
 * streams through a 64 KiB buffer, and the same 832 connections peaked at 152 MiB.
 *
 * Tested by pipe_test.ts, listen/tcp_bulk_test.ts and http/upgrade_tcp_test.ts (half-close,
 * backpressure).
 */
import { chunkBuffers, tunnelBuffers } from "./buffer_pool.ts";
import type { ByteConn } from "./buffered_conn.ts";
import { monotonicNow } from "../clock.ts";

export interface PipeOptions {
  /** Close both sides after this long without a byte either way; 0 = never. */
  readonly idleMs: number;
  /** Where to record the idle deadline (the connection registry's sweep closes on expiry). */
  readonly setDeadline: (epochMs: number) => void;
  /** Bytes moved, reported after each write. */
  readonly onBytes?: (direction: "up" | "down", n: number) => void;
  /** A direction reached end of stream cleanly (and the other side was half-closed). */
  readonly onEnd?: (direction: "up" | "down") => void;
}

export interface PipeResult {
  /** Bytes from the client side to the upstream side. */
  readonly up: number;
  /** Bytes from the upstream side to the client side. */
  readonly down: number;
  /** False when a side failed (reset, timeout) instead of closing cleanly. */
  readonly clean: boolean;
}

/** Size of each direction's own buffer, which idle reads wait in. */
export const SMALL_BUFFER = 4 * 1024;

/** Tunnel buffers an isolate's tunnels may hold at once (16 MiB). */
export const LARGE_IN_USE = 64;
let largeInUse = 0;

/** Tunnel buffers out now (for tests). */
export function largeBuffersInUse(): number {
  return largeInUse;
}

/** A buffer for a direction whose read filled its small one. */
function takeLarge(): Uint8Array {
  if (largeInUse >= LARGE_IN_USE) return chunkBuffers.take();
  largeInUse++;
  return tunnelBuffers.take();
}

/** Gives back what `takeLarge` gave. */
function giveLarge(buf: Uint8Array): void {
  if (buf.length !== tunnelBuffers.size) return chunkBuffers.give(buf);
  largeInUse--;
  tunnelBuffers.give(buf);
}

/** Copies `client` <-> `upstream` until both directions end; closes both before resolving. */
export async function pipeBoth(
  client: ByteConn,
  upstream: ByteConn,
  opts: PipeOptions,
): Promise<PipeResult> {
  const touch = opts.idleMs > 0 ? () => opts.setDeadline(monotonicNow() + opts.idleMs) : () => {};
  touch();
  let failed = false;
  const fail = () => {
    if (failed) return;
    failed = true;
    closeQuietly(client);
    closeQuietly(upstream);
  };
  const [up, down] = await Promise.all([
    copy(client, upstream, touch, fail, (n) => opts.onBytes?.("up", n)).then((n) => {
      if (!failed) opts.onEnd?.("up");
      return n;
    }),
    copy(upstream, client, touch, fail, (n) => opts.onBytes?.("down", n)).then((n) => {
      if (!failed) opts.onEnd?.("down");
      return n;
    }),
  ]);
  closeQuietly(client);
  closeQuietly(upstream);
  opts.setDeadline(0);
  return { up, down, clean: !failed };
}

/** Copies `from` to `to` until end of stream; returns the byte count. */
async function copy(
  from: ByteConn,
  to: ByteConn,
  touch: () => void,
  fail: () => void,
  counted: (n: number) => void,
): Promise<number> {
  const small = new Uint8Array(SMALL_BUFFER);
  let buf: Uint8Array = small;
  let total = 0;
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
      total += n;
      counted(n);
      touch();
      if (n === buf.length) {
        if (buf === small) buf = takeLarge();
      } else if (buf !== small) {
        giveLarge(buf);
        buf = small;
      }
    }
    await to.closeWrite();
  } catch {
    fail();
  } finally {
    // Nothing refers to it any more: every write from it completed, and a failed read or write
    // ends with the connections closed.
    if (buf !== small) giveLarge(buf);
  }
  return total;
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
