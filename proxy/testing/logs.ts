/**
 * Capturing Gatehouse's application log in a test: the records of one part ("acme",
 * "pipeline"...) are collected until the capture is disposed.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";

export interface CapturedLog extends AsyncDisposable {
  readonly records: LogRecord[];
}

/** Collects the "gatehouse.<part>" log records until disposed. */
export async function captureLog(part: string): Promise<CapturedLog> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { test: (record) => records.push(record) },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: ["gatehouse", part], lowestLevel: "debug", sinks: ["test"] },
    ],
  });
  return { records, [Symbol.asyncDispose]: () => reset() };
}

/** A log record's message with its values filled in. */
export function logText(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : String(part)).join("");
}
