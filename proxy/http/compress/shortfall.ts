/**
 * What the compression stage does when `compression.max_memory` is spent, counted for metrics
 * and said in the log at most every WARN_EVERY_MS: a response it would have compressed goes out
 * as it is; one it would have had to decode (its upstream used a coding the client does not
 * accept) is answered 503, since its bytes are of no use to that client.
 *
 * @module
 */
import { type Decodable, decoderBytes } from "./codec_memory.ts";
import { codecMemory } from "./codecs.ts";
import { ProxyFailure } from "../funnel.ts";
import { log } from "../../telemetry/log.ts";
import { LogThrottle } from "../../telemetry/log_throttle.ts";

const logger = log("compression");
const MIB = 1024 * 1024;
/** Each warning comes at most this often. */
const WARN_EVERY_MS = 10_000;

const uncompressed = new LogThrottle(WARN_EVERY_MS);
const undecoded = new LogThrottle(WARN_EVERY_MS);

function budget() {
  return {
    budget: Math.round(codecMemory.total / MIB * 10) / 10,
    free: Math.max(0, Math.floor(codecMemory.available / 1024)),
  };
}

/** The isolate's compression figures, for metrics. */
export function compressionStats(): {
  skipped: number;
  decodeRefused: number;
  memoryBytes: number;
  limitBytes: number;
} {
  const limitBytes = codecMemory.total;
  return {
    skipped: uncompressed.ever,
    decodeRefused: undecoded.ever,
    memoryBytes: limitBytes - codecMemory.available,
    limitBytes,
  };
}

/** A response goes out uncompressed for want of encoder memory. */
export function sentUncompressed(): void {
  if (!uncompressed.count()) return;
  logger.warning(
    "Sent {count} response(s) uncompressed: the encoder memory (compression.max_memory, " +
      "{budget} MiB per worker) is in use by responses in flight ({free} KiB free); slow or " +
      "stalled clients of compressed responses hold it",
    { count: uncompressed.since, ...budget() },
  );
  uncompressed.logged();
}

/** The failure for a response whose `coding` no decoder can be spared for (answered 503). */
export function decodingRefused(coding: Decodable): ProxyFailure {
  const need = Math.round(decoderBytes(coding) / MIB * 10) / 10;
  if (undecoded.count()) {
    logger.warning(
      "Answered {count} response(s) 503: the upstream sent them {coding}-encoded to clients " +
        "that do not accept it, and decoding needs ~{need} MiB of compression.max_memory " +
        "({budget} MiB per worker, {free} KiB free); have the upstream honour Accept-Encoding, " +
        "or raise compression.max_memory",
      { count: undecoded.since, coding, need, ...budget() },
    );
    undecoded.logged();
  }
  return new ProxyFailure(
    503,
    "unavailable",
    `No memory to spare for decoding the upstream's ${coding} response (compression.max_memory)`,
    { retryAfter: 1 },
  );
}
