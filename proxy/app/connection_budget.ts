/**
 * `limits.max_connections: auto` (the default): as many client connections as the process's
 * memory limit holds, worked out once at start, so that a flood of connections is refused at
 * accept time instead of growing the process until the kernel's OOM killer ends it, and every
 * connection with it. A container of 200 MiB was killed by ~6,700 idle TLS connections before.
 *
 * `limits.max_requests_in_flight: auto` admits half as many requests in flight
 * (http/phases/limits.ts): an HTTP/2 connection carries up to 100 of them, each holding an
 * upstream connection and its state, so connections alone do not bound the memory. A request is
 * budgeted REQUEST_BYTES: one uploading to an upstream that stopped reading holds a stream window
 * or a read buffer (64 KiB) and its state (~40 KiB); 832 of them over HTTP/2 took a 200 MiB
 * cgroup past its limit (the budget's 64 KiB each), 416 peaked at 143-151 MiB.
 *
 * The figures: 90% of the limit is usable; Gatehouse itself takes BASE_BYTES with one isolate
 * carrying traffic (its idle RSS is ~90 MiB, and its heap grows under load) and WORKER_BYTES per
 * further worker isolate (what is over `compression.max_memory`'s default of 32 MiB is taken off
 * the top as well); each connection is budgeted CONNECTION_BYTES (an idle TLS connection
 * takes ~30 KiB, one streaming a body a 64 KiB buffer more and an upstream connection). The
 * memory limit comes from internal/memory_limit.ts (the cgroup's, else physical memory).
 *
 * Tested by connection_budget_test.ts.
 */
import type { Config } from "../config/types.ts";
import { DEFAULT_CODEC_MEMORY } from "../http/compress/codec_memory.ts";
import { type MemoryLimit, memoryLimit } from "../internal/memory_limit.ts";
import { log } from "../telemetry/log.ts";

const logger = log("connections");

const MIB = 1024 * 1024;
const USABLE_SHARE = 0.9;
const BASE_BYTES = 128 * MIB;
const WORKER_BYTES = 48 * MIB;
const CONNECTION_BYTES = 64 * 1024;
const REQUEST_BYTES = 128 * 1024;
/** Never fewer than this, however small the limit (the log then says the limit is too small). */
export const MIN_CONNECTIONS = 256;

/**
 * The connections `limit` bytes hold with `workers` worker isolates carrying traffic, each with
 * `codecMemory` bytes for encoders and decoders (`compression.max_memory`).
 */
export function connectionsFor(
  limit: number,
  workers: number,
  codecMemory = DEFAULT_CODEC_MEMORY,
): number {
  const moreCodecMemory = Math.max(0, codecMemory - DEFAULT_CODEC_MEMORY) * workers;
  const base = BASE_BYTES + WORKER_BYTES * Math.max(0, workers - 1) + moreCodecMemory;
  const fit = Math.floor((limit * USABLE_SHARE - base) / CONNECTION_BYTES);
  return Math.max(MIN_CONNECTIONS, fit);
}

/**
 * The requests in flight `max_requests_in_flight: auto` stands for, given what
 * `max_connections: auto` came to (0: unlimited).
 */
export function autoRequests(autoConnections: number): number {
  return Math.floor(autoConnections * CONNECTION_BYTES / REQUEST_BYTES);
}

/**
 * The connection limit `max_connections: auto` stands for in this process (0: unlimited, when
 * the memory limit cannot be read). Logs what it is and where it comes from when `config` uses
 * it, and warns when `config` sets a number (or no limit) a cgroup's memory limit cannot hold.
 */
export function autoConnections(
  config: Config,
  workers: number,
  limit: MemoryLimit | null = memoryLimit(),
): number {
  const set = config.limits.maxConnections;
  if (limit === null) {
    if (set === "auto") {
      logger.info(
        "limits.max_connections is auto, but the memory limit cannot be read (the C library " +
          "is not loaded): no limit",
      );
    }
    return 0;
  }
  const max = connectionsFor(limit.bytes, workers, config.compressionMemory);
  const fields = {
    max,
    set,
    memory: Math.round(limit.bytes / MIB),
    source: limit.source,
    workers,
    each: CONNECTION_BYTES / 1024,
    requests: autoRequests(max),
    eachRequest: REQUEST_BYTES / 1024,
  };
  if (set === "auto" && max === MIN_CONNECTIONS) {
    logger.warning(
      "limits.max_connections auto: {max} connections, but the memory limit ({memory} MiB, " +
        "{source}) is too small for Gatehouse with {workers} worker(s) and those: give it more " +
        "memory, fewer workers, or set limits.max_connections",
      fields,
    );
  } else if (set === "auto") {
    logger.info(
      "limits auto: at most {max} client connections ({each} KiB each) and {requests} requests " +
        "in flight ({eachRequest} KiB each) within the memory limit of {memory} MiB ({source}); " +
        "set limits.max_connections and limits.max_requests_in_flight to choose others",
      fields,
    );
  } else if (limit.kind === "cgroup" && (set === 0 || set > max)) {
    logger.warning(
      "limits.max_connections is {set}: the memory limit of {memory} MiB ({source}) holds about " +
        "{max} connections at {each} KiB each; past that the process may be killed for want of " +
        "memory (auto refuses connections instead)",
      { ...fields, set: set === 0 ? "0 (unlimited)" : set },
    );
  }
  return max;
}
