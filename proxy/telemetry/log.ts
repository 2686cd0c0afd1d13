/**
 * Logging through @logtape/logtape: application logs (structured, levelled) on stderr and the
 * access log (one line per request, JSON or combined format) on stdout, both written in
 * batches off the request path.
 */
import {
  configure,
  dispose,
  getLogger,
  getStreamSink,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
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
  if (accessEnabled) accessLogger.info("access", record as unknown as Record<string, unknown>);
}

/** Writes one access log line for a finished TCP connection (if the access log is on). */
export function logTcp(record: TcpRecord): void {
  if (accessEnabled) accessLogger.info("tcp", record as unknown as Record<string, unknown>);
}

let appFormat = appJson;
let accessFormat = accessJson;
type StreamSink = Sink & AsyncDisposable;
/** The stream sinks hold the stdout/stderr writers, so they live as long as the process. */
let streams: { app: StreamSink; access: StreamSink } | null = null;

/** (Re)configures logging from the config; safe to call on every reload. */
export async function setupLogging(settings: LogSettings): Promise<void> {
  accessEnabled = settings.accessLog.enabled;
  appFormat = settings.format === "json" ? appJson : appText;
  accessFormat = settings.accessLog.format === "json" ? accessJson : accessCombined;
  streams ??= {
    app: getStreamSink(Deno.stderr.writable, {
      formatter: (record) => appFormat(record),
      closeStream: false,
      nonBlocking: { bufferSize: 64, flushInterval: 50 },
    }) as StreamSink,
    access: getStreamSink(Deno.stdout.writable, {
      formatter: (record) => accessFormat(record),
      closeStream: false,
      nonBlocking: { bufferSize: 256, flushInterval: 50 },
    }) as StreamSink,
  };
  const { app, access } = streams;
  // Plain wrappers: a reconfigure disposes the configured sinks, never the streams behind them.
  await configure({
    reset: true,
    sinks: { app: (record) => app(record), access: (record) => access(record) },
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
  const open = streams;
  streams = null;
  await open?.app[Symbol.asyncDispose]();
  await open?.access[Symbol.asyncDispose]();
}

function message(record: LogRecord): string {
  let out = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    out += i % 2 === 0 ? String(part) : typeof part === "string" ? part : JSON.stringify(part);
  }
  return out;
}

function appJson(record: LogRecord): string {
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    msg: message(record),
    ...record.properties,
  }) + "\n";
}

function appText(record: LogRecord): string {
  const props = Object.entries(record.properties)
    .map(([k, v]) => ` ${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v)}`)
    .join("");
  return `${new Date(record.timestamp).toISOString()} ${record.level.toUpperCase().padEnd(7)} ` +
    `${record.category.join(".")}: ${message(record)}${props}\n`;
}

function accessJson(record: LogRecord): string {
  return JSON.stringify({ time: new Date(record.timestamp).toISOString(), ...record.properties }) +
    "\n";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Apache/nginx "combined" format, then request id, route, service, upstream and duration. */
function accessCombined(record: LogRecord): string {
  const r = record.properties as unknown as AccessRecord;
  const d = new Date(record.timestamp);
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
  const q = (v: string | null) => `"${(v ?? "-").replace(/["\\]/g, "\\$&")}"`;
  if (record.message[0] === "tcp") {
    return tcpCombined(record.properties as unknown as TcpRecord, time);
  }
  return `${r.clientIp} - - [${time}] ${q(`${r.method} ${r.target} ${r.protocol}`)} ${r.status} ` +
    `${r.bytesOut} ${q(r.referer)} ${q(r.userAgent)} ${r.requestId} ${r.route ?? "-"} ` +
    `${r.service ?? "-"} ${r.upstream ?? "-"} ${r.durationMs.toFixed(1)}ms\n`;
}

/**
 * A TCP connection in the combined log's shape: client, time, "TCP entrypoint sni", outcome,
 * bytes down, bytes up, then route, service, upstream and duration.
 */
function tcpCombined(r: TcpRecord, time: string): string {
  return `${r.clientIp} - - [${time}] "TCP ${r.entrypoint} ${r.sni ?? "-"}" ${r.outcome} ` +
    `${r.bytesDown} ${r.bytesUp} ${r.route ?? "-"} ${r.service ?? "-"} ${r.upstream ?? "-"} ` +
    `${r.durationMs.toFixed(1)}ms\n`;
}
