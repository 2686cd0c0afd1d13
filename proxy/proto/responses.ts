/**
 * Responses Gatehouse writes itself: short, plain text, no upstream details (those go to the
 * log).
 */
import { HeaderList } from "./header_list.ts";
import type { OutgoingResponse } from "./message.ts";

const TEXT: Record<number, string> = {
  400: "400 Bad Request: the request is malformed\n",
  404: "404 Not Found\n",
  413: "413 Content Too Large: the request body is larger than this route accepts\n",
  421: "421 Misdirected Request: this entrypoint is closing\n",
  499: "499 Client Closed Request\n",
  500: "500 Internal Server Error\n",
  502: "502 Bad Gateway: the upstream server could not be reached or failed to answer\n",
  503: "503 Service Unavailable: no healthy upstream server, try again later\n",
  504: "504 Gateway Timeout: the upstream server did not answer in time\n",
};

/** The answer to a request still waiting for its upstream when the drain deadline passed. */
export const DRAIN_CUT_TEXT = "503 Service Unavailable: Gatehouse is shutting down, try again\n";

const encoder = new TextEncoder();

/** The client's request turned out bad while it streamed (a body over max_body): answer `status`. */
export class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A plain text response; `text` defaults to the standard wording for the status. */
export function proxyResponse(status: number, text?: string): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", "text/plain; charset=utf-8");
  headers.appendLower("cache-control", "no-store");
  return { status, headers, body: encoder.encode(text ?? TEXT[status] ?? `${status}\n`) };
}
