/**
 * Log line formats: application lines as JSON or text, access lines as JSON or the combined
 * format (HTTP requests and TCP connections).
 */
import type { LogRecord } from "@logtape/logtape";
import type { AccessRecord, TcpRecord, UdpRecord } from "./records.ts";

function message(record: LogRecord): string {
  let out = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    out += i % 2 === 0 ? String(part) : typeof part === "string" ? part : JSON.stringify(part);
  }
  return out;
}

export function appJson(record: LogRecord): string {
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    msg: message(record),
    ...record.properties,
  }) + "\n";
}

/** `{name}` placeholders of a message template. */
const PLACEHOLDER = /\{([^{}\s]+)\}/g;

/** One line for people: time, level, logger, message, then the properties it did not show. */
export function appText(record: LogRecord): string {
  const shown = typeof record.rawMessage === "string"
    ? new Set(Array.from(record.rawMessage.matchAll(PLACEHOLDER), (m) => m[1]))
    : new Set<string>();
  const props = Object.entries(record.properties)
    .filter(([k]) => !shown.has(k))
    .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
    .join("");
  return `${new Date(record.timestamp).toISOString()} ${record.level.toUpperCase().padEnd(7)} ` +
    `${record.category.join(".")}: ${message(record)}${props}\n`;
}

/** One JSON object per line: "time" first, then the record's fields in their order. */
export function accessJson(record: LogRecord): string {
  // The record is a plain object of strings, numbers and nulls (never undefined, which
  // JSON.stringify would leave out): stringified as it is, then "time" spliced in front. Twice
  // as fast as building the line field by field.
  return '{"time":"' + isoTime(record.timestamp) + '",' +
    JSON.stringify(record.properties).slice(1) +
    "\n";
}

let lastMs = -1;
let lastIso = "";

/** ISO time of `ms`, remembered for the next line of the same millisecond. */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** A field of the combined format in quotes: `"` and `\` escaped, control characters as \xHH. */
function quoted(value: string | null): string {
  const text = (value ?? "-").replace(/["\\]/g, "\\$&").replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return `"${text}"`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Apache/nginx "combined" format, then request id, route, service, upstream, duration and the
 * reason the proxy answered itself (quoted, "-" when it did not).
 */
export function accessCombined(record: LogRecord): string {
  const r = record.properties as unknown as AccessRecord;
  const d = new Date(record.timestamp);
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
  if (record.message[0] === "tcp") {
    return tcpCombined(record.properties as unknown as TcpRecord, time);
  }
  if (record.message[0] === "udp") {
    return udpCombined(record.properties as unknown as UdpRecord, time);
  }
  const request = quoted(`${r.method} ${r.target} ${r.protocol}`);
  return `${r.clientIp} - ${r.user ?? "-"} [${time}] ${request} ${r.status} ${r.bytesOut} ` +
    `${quoted(r.referer)} ${quoted(r.userAgent)} ${r.requestId} ${r.route ?? "-"} ` +
    `${r.service ?? "-"} ${r.upstream ?? "-"} ${r.durationMs.toFixed(1)}ms ${quoted(r.error)}\n`;
}

/**
 * A TCP connection in the combined log's shape: client, time, "TCP entrypoint sni", outcome,
 * bytes down, bytes up, then route, service, upstream, duration and the error (quoted, or "-").
 */
function tcpCombined(r: TcpRecord, time: string): string {
  const request = quoted(`TCP ${r.entrypoint} ${r.sni ?? "-"}`);
  return `${r.clientIp} - - [${time}] ${request} ${r.outcome} ${r.bytesDown} ${r.bytesUp} ` +
    `${r.route ?? "-"} ${r.service ?? "-"} ${r.upstream ?? "-"} ${r.durationMs.toFixed(1)}ms ` +
    `${quoted(r.error)}\n`;
}

/**
 * A UDP session in the combined log's shape: client, time, "UDP entrypoint", outcome, bytes
 * down, bytes up, datagrams down/up, then route, service, upstream, duration and the error.
 */
function udpCombined(r: UdpRecord, time: string): string {
  const request = quoted(`UDP ${r.entrypoint}`);
  return `${r.clientIp} - - [${time}] ${request} ${r.outcome} ${r.bytesDown} ${r.bytesUp} ` +
    `${r.datagramsDown}/${r.datagramsUp} ${r.route ?? "-"} ${r.service ?? "-"} ` +
    `${r.upstream ?? "-"} ${r.durationMs.toFixed(1)}ms ${quoted(r.error)}\n`;
}
