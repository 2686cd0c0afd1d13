/**
 * Options both sides of an HTTP/2 connection share, their defaults, and the events a connection
 * reports about its peer.
 *
 * @module
 */
import type { H2Budgets, H2Stats } from "./guard.ts";
import { initialSettings, type Settings } from "./settings.ts";
import type { WriteWatch } from "../../net/connections.ts";

/** Something the connection did about the peer, for the log (counted in H2Stats too). */
export interface H2Event {
  readonly kind: "connection_error" | "stream_error" | "goaway_received";
  /** RFC 9113 error code (GOAWAY or RST_STREAM). */
  readonly code: number;
  /** What happened, for a person: "Cannot ...: ...". */
  readonly message: string;
  readonly streamId?: number;
}

/** Options both sides share; every field is optional. */
export interface H2Options {
  /** SETTINGS_INITIAL_WINDOW_SIZE: per-stream receive window (default 64 KiB). */
  readonly initialWindowSize?: number;
  /** Connection receive window (default 1 MiB). */
  readonly connectionWindowSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: decoded header list limit (default 64 KiB). */
  readonly maxHeaderListSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE this side accepts (default 16384). */
  readonly maxFrameSize?: number;
  /** SETTINGS_HEADER_TABLE_SIZE: HPACK table the peer may use for what it sends (default 4096). */
  readonly headerTableSize?: number;
  /** Flood budgets per connection (defaults: DEFAULT_BUDGETS). */
  readonly budgets?: Partial<H2Budgets>;
  /** Counters to add to (shared by many connections). */
  readonly stats?: H2Stats;
  /** Called with protocol errors and defensive actions, for the log. */
  readonly onEvent?: (event: H2Event) => void;
  /**
   * Called whenever the number of open streams changes: all of them, and those of them that wait
   * on the peer alone: ended on this side and waiting for the peer's END_STREAM (a server's
   * answered requests whose client has not finished its body; a client's requests sent in full,
   * waiting for their responses), or with DATA to send and waiting for the peer's
   * WINDOW_UPDATE. Transiently the second count may exceed the first while a reset stream's
   * wait unwinds.
   */
  readonly onStreamCount?: (open: number, awaitingPeer: number) => void;
  /** How long each write may wait for the peer to take bytes (the connection then closes). */
  readonly writeWatch?: WriteWatch;
}

/**
 * 64 KiB, as nginx (`http2_body_preread_size`) and HAProxy (`tune.h2.initial-window-size`) give:
 * a stream whose reader stalls (an upload to an upstream that stopped reading) holds one window,
 * and `limits.max_requests_in_flight: auto` of them must fit the memory limit. With 256 KiB, 832
 * uploads to a stalled upstream got Gatehouse OOM-killed in a 200 MiB cgroup. A stream that moves
 * data fast gets more from a bounded budget (flow.ts), so one large upload is not held to 64 KiB
 * per round trip.
 */
export const DEFAULT_STREAM_WINDOW = 64 * 1024;
export const DEFAULT_CONNECTION_WINDOW = 1024 * 1024;
export const DEFAULT_HEADER_LIST = 64 * 1024;
/** This side's settings from `options` (the server and the client then set a few of their own). */
export function localSettings(options: H2Options): Settings {
  return {
    ...initialSettings(),
    initialWindowSize: options.initialWindowSize ?? DEFAULT_STREAM_WINDOW,
    maxHeaderListSize: options.maxHeaderListSize ?? DEFAULT_HEADER_LIST,
    maxFrameSize: options.maxFrameSize ?? 16_384,
    headerTableSize: options.headerTableSize ?? 4096,
  };
}
