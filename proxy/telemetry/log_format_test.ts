import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { accessJson } from "./log_format.ts";

Deno.test("an access line is one JSON object: time first, fields in order, nulls kept, escaped", () => {
  const properties = {
    requestId: "r1",
    target: '/a"b\\c\u0001\u2028é',
    status: 200,
    durationMs: 0.42,
    referer: null,
    error: null,
  };
  const record: LogRecord = {
    category: ["gatehouse", "access"],
    level: "info",
    message: ["access"],
    rawMessage: "access",
    timestamp: Date.UTC(2026, 10, 21, 6, 0, 0, 5),
    properties,
  };
  const line = accessJson(record);
  assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"));
  const parsed = JSON.parse(line);
  assert.deepEqual(Object.keys(parsed), ["time", ...Object.keys(properties)]);
  assert.deepEqual(parsed, { time: "2026-11-21T06:00:00.005Z", ...properties });
});
