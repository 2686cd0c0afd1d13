/**
 * The log lines of an HTTP/2 entrypoint's protocol events: a client's malformed request (reset),
 * its protocol errors, and the defences that closed its connection (rapid reset, floods). Each
 * event is one line naming the entrypoint and the client, at most LINES_PER_SECOND per
 * entrypoint: a hostile client must not flood the log. The counts are in
 * `gatehouse_http2_defences_total` whatever the log shows.
 *
 * Tested by listen/h2_defences_test.ts.
 */
import type { H2Event } from "../proto/h2/options.ts";
import type { ClientInfo } from "../proto/message.ts";
import { log } from "../telemetry/log.ts";

const logger = log("http2");

/** Lines logged per entrypoint and second, at most; the rest are counted in the next line. */
const LINES_PER_SECOND = 10;

/** A rate-limited logger of one entrypoint's HTTP/2 events. */
export class H2EventLog {
  readonly #entrypoint: string;
  #second = 0;
  #lines = 0;
  #suppressed = 0;

  constructor(entrypoint: string) {
    this.#entrypoint = entrypoint;
  }

  /** Logs `event` of a connection from `client` (unless this second's budget is spent). */
  report(event: H2Event, client: ClientInfo): void {
    if (event.kind === "goaway_received" && event.code === 0) return;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#lines = 0;
    }
    if (this.#lines >= LINES_PER_SECOND) {
      this.#suppressed++;
      return;
    }
    this.#lines++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    const level = event.kind === "stream_error" ? "info" : "warning";
    logger[level](
      "HTTP/2 client {client} on {entrypoint}: {message}" +
        (suppressed > 0 ? " ({suppressed} more events not logged)" : ""),
      {
        client: `${client.address}:${client.port}`,
        entrypoint: this.#entrypoint,
        message: event.message,
        suppressed,
      },
    );
  }
}
