/**
 * Raw HTTP/2 requests for tests, through python3-h2 (`h2_raw.py`): header blocks go out exactly
 * as given (repeated fields, uppercase or underscore names, any pseudo-header), which curl,
 * nghttp and Deno's fetch refuse to send. Each request gets its own stream, one after another.
 *
 * ```ts
 * const [res] = await h2Raw(port, certs.caCertPath, [{
 *   headers: [[":method", "POST"], [":scheme", "https"], [":authority", "localhost"],
 *     [":path", "/"], ["content-length", "5"], ["content-length", "6"]],
 *   data: ["hello"],
 * }]);
 * ```
 *
 * @module
 */
import { SYSTEM_PYTHON } from "./prometheus.ts";

const CLIENT = new URL("./h2_raw.py", import.meta.url).pathname;

export interface H2RawRequest {
  /** The header block, pseudo-headers included, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** DATA frames (latin-1 strings). */
  readonly data?: readonly string[];
  /** END_STREAM after the last frame (default true). */
  readonly end?: boolean;
}

export interface H2RawResponse {
  /** Null when the stream was reset (or the connection ended) before a response. */
  readonly status: number | null;
  readonly headers: [string, string][];
  readonly body: string;
  /** The RST_STREAM error code, "CONNECTION_CLOSED"/"CONNECTION_LOST", or null. */
  readonly reset: string | null;
}

export interface H2RawResult {
  readonly responses: H2RawResponse[];
  /** The GOAWAY error code when the server ended the connection, else null. */
  readonly goaway: string | null;
}

/** Sends `requests` over one TLS h2 connection to 127.0.0.1:`port` (SNI `serverName`). */
export async function h2Raw(
  port: number,
  caFile: string,
  requests: readonly H2RawRequest[],
  serverName = "localhost",
): Promise<H2RawResult> {
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: [CLIENT, String(port), caFile, serverName],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({ requests })));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`h2_raw.py failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  return JSON.parse(text) as H2RawResult;
}

/** A request's pseudo-headers (GET https://localhost/ by default) followed by `fields`. */
export function h2Head(
  fields: readonly (readonly [string, string])[] = [],
  pseudo: { method?: string; path?: string; authority?: string | null } = {},
): [string, string][] {
  const out: [string, string][] = [
    [":method", pseudo.method ?? "GET"],
    [":scheme", "https"],
  ];
  if (pseudo.authority !== null) out.push([":authority", pseudo.authority ?? "localhost"]);
  out.push([":path", pseudo.path ?? "/"]);
  return [...out, ...fields.map(([n, v]): [string, string] => [n, v])];
}
