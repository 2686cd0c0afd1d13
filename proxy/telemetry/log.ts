/**
 * Logging through @logtape/logtape: application logs (structured, levelled) on stderr and the
 * access log (one line per request, JSON or combined format) on stdout, both written in
 * batches off the request path. The "auto" format (the default) writes for people on a terminal
 * (text, combined) and JSON elsewhere; $GATEHOUSE_LOG_FORMAT (json or text) decides for it.
 */
import { configure, dispose, getLogger, type LogRecord } from "@logtape/logtape";
import { accessCombined, accessJson, appJson, appText } from "./log_format.ts";
import { BatchSink } from "./log_sink.ts";
import type { LogSettings } from "../config/types.ts";

/** One request as the access log records it. */
export interface AccessRecord {
  readonly requestId: string;
  readonly entrypoint: string;
  readonly route: string | null;
  readonly service: string | null;
  /** URL of the upstream server that answered (or failed last). */
  readonly upstream: string | null;
  readonly clientIp: string;
  readonly method: string;
  readonly target: string;
  readonly host: string;
  /** "HTTP/1.0", "HTTP/1.1" or "HTTP/2". */
  readonly protocol: string;
  /** What the exchange was: plain HTTP, an Upgrade tunnel, server-sent events, or gRPC. */
  readonly kind: "http" | "websocket" | "sse" | "grpc";
  readonly status: number;
  /** Request body bytes received. */
  readonly bytesIn: number;
  /** Response body bytes sent. */
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly userAgent: string | null;
  readonly referer: string | null;
  /** Upstream attempts (more than 1 after a retry). */
  readonly attempts: number;
  /** Why the proxy answered itself, when it did. */
  readonly error: string | null;
  /**
   * Why Gatehouse refused the request (a RejectReason of proxy/http/rejection.ts: a fixed set,
   * labels gatehouse_requests_rejected_total), or null.
   */
  readonly reason: string | null;
  /** Request fields removed for an "_" in their name (forwarding.header_underscores: drop). */
  readonly droppedHeaders: number;
}

/** How a TCP connection ended. */
export type TcpOutcome =
  | "closed" // both directions ended cleanly
  | "reset" // a side failed (reset, broken pipe)
  | "idle_timeout"
  | "drained" // closed by shutdown or route removal after the grace period
  | "refused" // connection limit, or shutting down
  | "proxy_protocol" // a PROXY header missing, malformed, or from a peer not trusted to send one
  | "client_hello" // no usable TLS ClientHello where one was needed
  | "tls_handshake"
  | "no_route"
  | "unavailable" // no server of the service could be picked
  | "connect_failed"; // every connect attempt failed or timed out

/** One TCP connection as the access log records it (when it ends). */
export interface TcpRecord {
  readonly protocol: "TCP";
  readonly entrypoint: string;
  readonly route: string | null;
  readonly service: string | null;
  /** URL of the upstream server (or the last one tried). */
  readonly upstream: string | null;
  /** The client's address (from the PROXY header when a trusted load balancer sent one). */
  readonly clientIp: string;
  readonly clientPort: number;
  /** Server name of the client's TLS hello, when one was read. */
  readonly sni: string | null;
  /** "terminated" here, forwarded untouched ("passthrough"), or no TLS seen ("none"). */
  readonly tls: "terminated" | "passthrough" | "none";
  /** Bytes from the client to the upstream. */
  readonly bytesUp: number;
  /** Bytes from the upstream to the client. */
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly outcome: TcpOutcome;
  /** Upstream connect attempts. */
  readonly attempts: number;
  readonly error: string | null;
}

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

const ACCESS_MESSAGE = { access: ["access"], tcp: ["tcp"] } as const;

/**
 * Hands a finished record to logtape as a ready LogRecord (`emit`): the plain `info()` path
 * would parse the message and wrap the properties in lazy getters on every request.
 */
function emitAccess(kind: "access" | "tcp", record: AccessRecord | TcpRecord): void {
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

/** (Re)configures logging from the config; safe to call on every reload. */
export async function setupLogging(settings: LogSettings): Promise<void> {
  accessEnabled = settings.accessLog.enabled;
  const formats = logFormats(settings, surroundings());
  appFormat = formats.app === "json" ? appJson : appText;
  accessFormat = formats.access === "json" ? accessJson : accessCombined;
  sinks ??= {
    app: new BatchSink(Deno.stderr, (record) => appFormat(record)),
    access: new BatchSink(Deno.stdout, (record) => accessFormat(record)),
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

/** Flushes and closes the log sinks (at exit). */
export async function closeLogging(): Promise<void> {
  await dispose();
  const open = sinks;
  sinks = null;
  await open?.app.close();
  await open?.access.close();
}
