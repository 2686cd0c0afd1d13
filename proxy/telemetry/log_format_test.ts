import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { accessCombined, accessJson, appText } from "./log_format.ts";

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

function record(message: string, properties: Record<string, unknown>): LogRecord {
  return {
    category: ["gatehouse", "access"],
    level: "info",
    message: [message],
    rawMessage: message,
    timestamp: Date.UTC(2026, 10, 21, 6, 0, 0, 5),
    properties,
  };
}

const HTTP = {
  requestId: "r1",
  entrypoint: "websecure",
  route: "demo-app",
  service: "demo-app",
  upstream: "http://app:8000",
  clientIp: "127.0.0.1",
  method: "GET",
  target: "/a b",
  host: "app.localhost",
  protocol: "HTTP/2",
  kind: "http",
  status: 502,
  bytesIn: 0,
  bytesOut: 61,
  durationMs: 3.25,
  userAgent: 'curl "7"',
  referer: null,
  attempts: 3,
  error: "Cannot connect to app:8000: no such host\r\nx",
};

Deno.test("a combined access line keeps the error, quoted and escaped, at its end", () => {
  assert.equal(
    accessCombined(record("access", HTTP)),
    '127.0.0.1 - - [21/Nov/2026:06:00:00 +0000] "GET /a b HTTP/2" 502 61 "-" "curl \\"7\\"" r1 ' +
      'demo-app demo-app http://app:8000 3.3ms "Cannot connect to app:8000: no such host\\x0d\\x0ax"\n',
  );
  const served = accessCombined(record("access", { ...HTTP, status: 200, error: null }));
  assert.ok(served.endsWith(' 3.3ms "-"\n'), served);
});

Deno.test("a combined TCP line: outcome, bytes each way, route, service, upstream, error", () => {
  const tcp = {
    protocol: "TCP",
    entrypoint: "echo",
    route: null,
    service: null,
    upstream: null,
    clientIp: "10.0.0.9",
    clientPort: 50000,
    sni: null,
    tls: "none",
    bytesUp: 5,
    bytesDown: 0,
    durationMs: 12,
    outcome: "no_route",
    attempts: 0,
    error: "no route for this connection",
  };
  assert.equal(
    accessCombined(record("tcp", tcp)),
    '10.0.0.9 - - [21/Nov/2026:06:00:00 +0000] "TCP echo -" no_route 0 5 - - - 12.0ms ' +
      '"no route for this connection"\n',
  );
});

Deno.test("a combined UDP line: outcome, bytes and datagrams each way, route, service, upstream", () => {
  const udp = {
    protocol: "UDP",
    entrypoint: "dns",
    route: "dns/udp",
    service: "resolvers",
    upstream: "udp://10.0.0.53:53",
    clientIp: "10.0.0.9",
    clientPort: 50000,
    datagramsUp: 2,
    bytesUp: 64,
    datagramsDown: 3,
    bytesDown: 512,
    durationMs: 30012.4,
    outcome: "idle",
    error: null,
  };
  assert.equal(
    accessCombined(record("udp", udp)),
    '10.0.0.9 - - [21/Nov/2026:06:00:00 +0000] "UDP dns" idle 512 64 3/2 dns/udp resolvers ' +
      'udp://10.0.0.53:53 30012.4ms "-"\n',
  );
});

Deno.test("a text line shows the message, then only the properties it did not use", () => {
  const line = appText({
    category: ["gatehouse", "main"],
    level: "warning",
    message: ["Reload (", "SIGHUP", ") rejected with ", 2, " error(s)"],
    rawMessage: "Reload ({reason}) rejected with {count} error(s)",
    timestamp: Date.UTC(2026, 10, 21, 6, 0, 0, 5),
    properties: { reason: "SIGHUP", count: 2, version: "abc" },
  });
  assert.equal(
    line,
    '2026-11-21T06:00:00.005Z WARNING gatehouse.main: Reload (SIGHUP) rejected with 2 error(s) version="abc"\n',
  );
});
