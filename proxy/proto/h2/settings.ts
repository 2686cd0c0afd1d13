/**
 * HTTP/2 settings (RFC 9113 6.5.2, RFC 8441 3): identifiers, initial values, the checks a
 * received SETTINGS frame must pass, and the list this side announces.
 *
 * @module
 */
import { ConnectionError, ErrorCode } from "./errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW } from "./frames.ts";

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** One side's settings; unknown identifiers are ignored. */
export interface Settings {
  headerTableSize: number;
  enablePush: boolean;
  /** Infinity until the peer sets it. */
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  /** Infinity until the peer sets it. */
  maxHeaderListSize: number;
  enableConnectProtocol: boolean;
}

/** The values in force before a SETTINGS frame says otherwise. */
export function initialSettings(): Settings {
  return {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Infinity,
    initialWindowSize: 65_535,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxHeaderListSize: Infinity,
    enableConnectProtocol: false,
  };
}

/**
 * Applies the entries of a received SETTINGS frame to `settings` (the peer's), checking each;
 * `fromServer` says who sent them. Throws ConnectionError for a value RFC 9113 forbids.
 */
export function applySettings(
  settings: Settings,
  entries: readonly (readonly [number, number])[],
  fromServer: boolean,
): void {
  for (const [id, value] of entries) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        settings.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1 || (fromServer && value === 1)) {
          throw new ConnectionError(
            ErrorCode.PROTOCOL_ERROR,
            `SETTINGS_ENABLE_PUSH ${value} is not allowed${fromServer ? " from a server" : ""}`,
          );
        }
        settings.enablePush = value === 1;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        settings.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) {
          throw new ConnectionError(
            ErrorCode.FLOW_CONTROL_ERROR,
            `SETTINGS_INITIAL_WINDOW_SIZE ${value} is above 2^31-1`,
          );
        }
        settings.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) {
          throw new ConnectionError(
            ErrorCode.PROTOCOL_ERROR,
            `SETTINGS_MAX_FRAME_SIZE ${value} is outside 16384..16777215`,
          );
        }
        settings.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        settings.maxHeaderListSize = value;
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        if (value > 1 || (settings.enableConnectProtocol && value === 0)) {
          throw new ConnectionError(
            ErrorCode.PROTOCOL_ERROR,
            `SETTINGS_ENABLE_CONNECT_PROTOCOL ${value} is not allowed here`,
          );
        }
        settings.enableConnectProtocol = value === 1;
        break;
    }
  }
}

/** The entries that announce `local`, leaving out what equals the initial values. */
export function settingsEntries(local: Settings): [number, number][] {
  const base = initialSettings();
  const out: [number, number][] = [];
  const add = (id: number, value: number, initial: number) => {
    if (value !== initial && Number.isFinite(value)) out.push([id, value]);
  };
  add(SettingId.HEADER_TABLE_SIZE, local.headerTableSize, base.headerTableSize);
  add(SettingId.ENABLE_PUSH, local.enablePush ? 1 : 0, 1);
  add(SettingId.MAX_CONCURRENT_STREAMS, local.maxConcurrentStreams, base.maxConcurrentStreams);
  add(SettingId.INITIAL_WINDOW_SIZE, local.initialWindowSize, base.initialWindowSize);
  add(SettingId.MAX_FRAME_SIZE, local.maxFrameSize, base.maxFrameSize);
  add(SettingId.MAX_HEADER_LIST_SIZE, local.maxHeaderListSize, base.maxHeaderListSize);
  add(SettingId.ENABLE_CONNECT_PROTOCOL, local.enableConnectProtocol ? 1 : 0, 0);
  return out;
}
