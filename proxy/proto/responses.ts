/**
 * Responses Gatehouse writes itself: short, plain text, no upstream details (those go to the
 * log).
 *
 * Tested by http/pipeline_test.ts and http/rejection_test.ts.
 */
import { HeaderList } from "./header_list.ts";
import type { OutgoingResponse } from "./message.ts";

const TEXT: Record<number, string> = {
  400: "400 Bad Request: the request is malformed\n",
  401: "401 Unauthorized: credentials are needed\n",
  403: "403 Forbidden\n",
  404: "404 Not Found\n",
  408: "408 Request Timeout: the request body stopped arriving\n",
  413: "413 Content Too Large: the request body is larger than this route accepts\n",
  421: "421 Misdirected Request: this entrypoint is closing\n",
  429: "429 Too Many Requests: slow down and try again later\n",
  499: "499 Client Closed Request\n",
  500: "500 Internal Server Error\n",
  502: "502 Bad Gateway: the upstream server could not be reached or failed to answer\n",
  503: "503 Service Unavailable: no healthy upstream server, try again later\n",
  504: "504 Gateway Timeout: the upstream server did not answer in time\n",
};

/** The answer to a request still waiting for its upstream when the drain deadline passed. */
export const DRAIN_CUT_TEXT = "503 Service Unavailable: Gatehouse is shutting down, try again\n";

const encoder = new TextEncoder();

/** A plain text response; `text` defaults to the standard wording for the status. */
export function proxyResponse(status: number, text?: string): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", "text/plain; charset=utf-8");
  headers.appendLower("cache-control", "no-store");
  return { status, headers, body: encoder.encode(text ?? TEXT[status] ?? `${status}\n`) };
}

/** The standard reason phrases, for status lines and plain-text answers. */
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  421: "Misdirected Request",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Unknown";
}
