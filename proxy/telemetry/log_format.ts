/**
 * Log line formats: application lines as JSON or text, access lines as JSON or the combined
 * format (HTTP requests and TCP connections).
 */
import type { LogRecord } from "@logtape/logtape";
import type { AccessRecord, TcpRecord } from "./records.ts";

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

export function appText(record: LogRecord): string {
  const props = Object.entries(record.properties)
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

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Apache/nginx "combined" format, then request id, route, service, upstream and duration. */
export function accessCombined(record: LogRecord): string {
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
