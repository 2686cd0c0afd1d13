/**
 * Logging through @logtape/logtape: application logs (structured, levelled) on stderr and the
 * access log (one line per request, JSON or combined format) on stdout, both written in
 * batches off the request path. Worker isolates format their lines themselves and hand the
 * batches to the main isolate (`LogOutputs`, `writeLogLines`), which writes one batch at a time:
 * one line per request, never two isolates' lines mixed. The "auto" format (the default) writes for people on a terminal
 * (text, combined) and JSON elsewhere; $GATEHOUSE_LOG_FORMAT (json or text) decides for it.
 *
 * Tested by log_terminal_test.ts, log_format_test.ts and log_sink_test.ts.
 */
import { configure, dispose, getLogger, type LogRecord } from "@logtape/logtape";
import { accessCombined, accessJson, appJson, appText } from "./log_format.ts";
import { BatchSink, type LineOutput, SerialOutput } from "./log_sink.ts";
import type { LogSettings } from "../config/types.ts";
import type { AccessRecord, TcpRecord, UdpRecord } from "./records.ts";

const ACCESS = ["gatehouse", "access"];
const accessLogger = getLogger(ACCESS);

/** Application logger for a part of Gatehouse (`log("config").error(...)`). */
export function log(part: string) {
  return getLogger(["gatehouse", part]);
}

let accessEnabled = true;

/** Writes one access log line (if the access log is on). */
export function logAccess(record: AccessRecord): void {
  if (accessEnabled) emitAccess("access", record);
}

/** Writes one access log line for a finished TCP connection (if the access log is on). */
export function logTcp(record: TcpRecord): void {
  if (accessEnabled) emitAccess("tcp", record);
}

/** Writes one access log line for a finished UDP session (if the access log is on). */
export function logUdp(record: UdpRecord): void {
  if (accessEnabled) emitAccess("udp", record);
}

const ACCESS_MESSAGE = { access: ["access"], tcp: ["tcp"], udp: ["udp"] } as const;

/**
 * Hands a finished record to logtape as a ready LogRecord (`emit`): the plain `info()` path
 * would parse the message and wrap the properties in lazy getters on every request.
 */
function emitAccess(
  kind: "access" | "tcp" | "udp",
  record: AccessRecord | TcpRecord | UdpRecord,
): void {
  // With its category given, logtape passes the record on as it is instead of copying it.
  const logRecord: LogRecord = {
    category: ACCESS,
    level: "info",
    message: ACCESS_MESSAGE[kind],
    rawMessage: kind,
    timestamp: Date.now(),
    properties: record as unknown as Record<string, unknown>,
  };
  accessLogger.emit(logRecord);
}

/** Where each stream's lines go. */
export interface LogOutputs {
  /** Application lines (stderr in the main isolate). */
  readonly app: LineOutput;
  /** Access lines (stdout in the main isolate). */
  readonly access: LineOutput;
}

/** This process's stderr and stdout, each written by one writer at a time. */
let processOutputs: { app: SerialOutput; access: SerialOutput } | null = null;

function ownOutputs(): { app: SerialOutput; access: SerialOutput } {
  return processOutputs ??= {
    app: new SerialOutput(Deno.stderr),
    access: new SerialOutput(Deno.stdout),
  };
}

/**
 * Main isolate: writes a batch of whole lines a worker isolate formatted, after the batches
 * before it; drops it (counted, and reported later) when the output is blocked and too much
 * waits already (log_sink.ts SerialOutput).
 */
export function writeLogLines(stream: "app" | "access", bytes: Uint8Array): void {
  ownOutputs()[stream].offer(bytes);
}

let appFormat = appJson;
let accessFormat = accessJson;
/** The sinks outlive reconfigurations: they hold lines not yet written. */
let sinks: { app: BatchSink; access: BatchSink } | null = null;

/** Where "auto" looks: the environment variable, and whether each stream is a terminal. */
export interface LogSurroundings {
  /** $GATEHOUSE_LOG_FORMAT, when set and readable. */
  readonly env?: string;
  readonly stdoutIsTerminal: boolean;
  readonly stderrIsTerminal: boolean;
}

/** The environment variable that decides what "auto" means: "json" or "text". */
export const LOG_FORMAT_ENV = "GATEHOUSE_LOG_FORMAT";

function surroundings(): LogSurroundings {
  const granted = Deno.permissions.querySync({ name: "env", variable: LOG_FORMAT_ENV });
  return {
    env: granted.state === "granted" ? Deno.env.get(LOG_FORMAT_ENV) : undefined,
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
  };
}

/**
 * The formats `settings` mean here: an explicit format stays; "auto" follows
 * $GATEHOUSE_LOG_FORMAT when it says json or text, else text (combined) for a stream that is a
 * terminal and JSON for one that is not.
 */
export function logFormats(
  settings: LogSettings,
  around: LogSurroundings,
): { app: "json" | "text"; access: "json" | "combined" } {
  const env = around.env?.trim().toLowerCase();
  const forced = env === "json" || env === "text" ? env : undefined;
  const human = (terminal: boolean) => (forced ?? (terminal ? "text" : "json")) === "text";
  const app = settings.format !== "auto"
    ? settings.format
    : human(around.stderrIsTerminal)
    ? "text"
    : "json";
  const access = settings.accessLog.format !== "auto"
    ? settings.accessLog.format
    : human(around.stdoutIsTerminal)
    ? "combined"
    : "json";
  return { app, access };
}

/**
 * (Re)configures logging from the config; safe to call on every reload. `outputs` (fixed by the
 * first call) default to this process's stderr and stdout.
 */
export async function setupLogging(
  settings: LogSettings,
  outputs: LogOutputs = ownOutputs(),
): Promise<void> {
  accessEnabled = settings.accessLog.enabled;
  const formats = logFormats(settings, surroundings());
  appFormat = formats.app === "json" ? appJson : appText;
  accessFormat = formats.access === "json" ? accessJson : accessCombined;
  sinks ??= {
    app: new BatchSink(outputs.app, (record) => appFormat(record)),
    access: new BatchSink(outputs.access, (record) => accessFormat(record)),
  };
  const { app, access } = sinks;
  await configure({
    reset: true,
    sinks: { app: app.sink, access: access.sink },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["app"] },
      { category: ["gatehouse"], lowestLevel: settings.level, sinks: ["app"] },
      { category: ACCESS, lowestLevel: "info", sinks: ["access"], parentSinks: "override" },
    ],
  });
}

/** Flushes and closes the log sinks, and waits for every line handed over to be written. */
export async function closeLogging(): Promise<void> {
  await dispose();
  const open = sinks;
  sinks = null;
  await open?.app.close();
  await open?.access.close();
  await processOutputs?.app.idle();
  await processOutputs?.access.idle();
}
