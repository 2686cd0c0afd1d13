/**
 * What the request phases share: the snapshot a request started on, and one context per request
 * that the phases fill in as it moves (the settled authority and target, the route, the service,
 * what goes upstream) and that the access log reads when it ends.
 *
 * Tested through pipeline_test.ts and the handler tests.
 */
import type { Config, Route } from "../config/types.ts";
import type {
  BodyReader,
  IncomingRequest,
  OutgoingResponse,
  TAKEN_OVER,
} from "../proto/message.ts";
import type { RetryPolicy } from "../upstream/attempts.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { clientIp } from "./client_ip.ts";
import { inCidrs } from "../net/cidr.ts";
import { isUnixAddress } from "../net/unix_socket.ts";
import type { CounterStore } from "../net/shared_counters.ts";
import type { RequestFacts } from "./compress/policy.ts";
import type { RequestLog } from "./request_log.ts";
import type { TunnelBytes } from "./upgrade.ts";
import type { Router } from "./router.ts";

/** What the pipeline reads from the live configuration. */
export interface Snapshot {
  readonly config: Config;
  readonly routers: ReadonlyMap<string, Router>;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  /** The bound port of an entrypoint (differs from the config when it said 0). */
  readonly port: (entrypoint: string) => number | undefined;
  /** The middlewares a route runs on an entrypoint (the entrypoint's, then the route's). */
  readonly middlewares: (entrypoint: string, route: string) => readonly Phase[];
}

/** A built-in service ("name@internal") answered inside Gatehouse. */
export type InternalService = (req: IncomingRequest) => Promise<OutgoingResponse>;

/** What the phases need from outside the HTTP layer. */
export interface PipelineDeps {
  readonly snapshot: () => Snapshot;
  /** Built-in services other than the welcome page (e.g. "metrics@internal"). */
  readonly internal?: ReadonlyMap<string, InternalService>;
  /**
   * The key authorization for an HTTP-01 token Gatehouse's ACME client is proving, or null (a
   * worker isolate asks the main isolate, which runs the ACME client).
   */
  readonly acmeChallenge?: (token: string) => string | null | Promise<string | null>;
  /**
   * Counters that are one number across worker isolates (net/shared_counters.ts), for phases
   * whose state must be global: rate limits, in-flight limits per key.
   */
  readonly counters?: CounterStore;
  /** Requests in flight, for `limits.max_requests_in_flight` (counted across worker isolates). */
  readonly requests?: RequestCount;
}

/** The count of requests in flight (net/connections.ts `ConnectionRegistry`). */
export interface RequestCount {
  /** What `max_requests_in_flight: auto` stands for (app/connection_budget.ts); 0 = no limit. */
  readonly auto: number;
  /** Counts one more request unless `max` are; false when full. */
  admit(max: number): boolean;
  /** A request counted by `admit` ended. */
  end(): void;
}

/** A phase's answer: a response, or the connection was taken over by a tunnel. */
export type Answer = OutgoingResponse | typeof TAKEN_OVER;

/**
 * One step of the request path. `request` runs on the way in and may answer (the phases after it
 * then do not run); `response` runs on the way out, in reverse order, for every response that
 * passes back through a phase whose `request` ran.
 */
export interface Phase {
  readonly name: string;
  readonly request?: (
    ctx: RequestContext,
  ) => Answer | undefined | Promise<Answer | undefined>;
  readonly response?: (ctx: RequestContext, res: OutgoingResponse) => OutgoingResponse;
}

/** One request's state, from its first phase to its access log line. */
export class RequestContext {
  readonly req: IncomingRequest;
  readonly entrypoint: string;
  readonly snapshot: Snapshot;
  readonly deps: PipelineDeps;
  readonly log: RequestLog;
  /** The authority routing and the upstream Host use (settled by the checks phase). */
  authority = "";
  /** Origin-form target as the client sent it, or "*" (settled by the checks phase). */
  target = "";
  /** The path routing uses: normalised, without the query. */
  path = "/";
  route: Route | null = null;
  service: ServiceRuntime | null = null;
  /** The route's retry policy, set by a `retry` middleware; null: the service's retries. */
  retry: RetryPolicy | null = null;
  /** The target the upstream gets (the route may strip a prefix). */
  upstreamTarget = "";
  /** The request body as it goes upstream (limited and counted). */
  body: BodyReader | null;
  /** The Upgrade protocol to tunnel, or null when the request is not a tunnel. */
  upgrade: string | null = null;
  /** What the client accepts, for the compression phase. */
  coding: RequestFacts | null = null;
  /** True once the response came from the upstream (response phases for upstream answers). */
  fromUpstream = false;
  /** The upstream's HTTP version ("1.1", "2"), for Via. */
  upstreamVersion = "";
  /** Bytes a tunnel moved, once it ended. */
  tunnel: TunnelBytes | null = null;
  /** Runs when the response body is done (or failed): the in-flight count ends there. */
  onEnd: (() => void) | undefined = undefined;
  #clientIp: string | null = null;
  #trustedPeer: boolean | null = null;
  /** Phases with a `response` step whose `request` ran, in order: they run in reverse. */
  readonly #entered: Phase[] = [];

  constructor(
    req: IncomingRequest,
    entrypoint: string,
    snapshot: Snapshot,
    deps: PipelineDeps,
    log: RequestLog,
  ) {
    this.req = req;
    this.entrypoint = entrypoint;
    this.snapshot = snapshot;
    this.deps = deps;
    this.log = log;
    this.body = req.body;
  }

  get config(): Config {
    return this.snapshot.config;
  }

  /** The client's address for middlewares: the peer's, or from a trusted proxy (client_ip.ts). */
  get clientIp(): string {
    return this.#clientIp ??= clientIp(
      this.req.client.address,
      this.req.headers,
      this.config.forwarding,
    );
  }

  /**
   * The peer is a trusted proxy (`forwarding.trusted_proxies`; `trust_unix_clients` for a client
   * of a unix socket): what it says of the client's request (headers.ts, `isProxyClaim`) holds.
   */
  get trustedPeer(): boolean {
    const address = this.req.client.address;
    const fwd = this.config.forwarding;
    return this.#trustedPeer ??= isUnixAddress(address)
      ? fwd.trustUnixClients
      : inCidrs(address, fwd.trustedProxies);
  }

  /** Adds `fn` to what runs when the response body is done (or failed, or the tunnel ended). */
  atEnd(fn: () => void): void {
    const before = this.onEnd;
    this.onEnd = before === undefined ? fn : () => {
      before();
      fn();
    };
  }

  /** Runs `phase`'s request step, remembering it for the way out when it has a response step. */
  enter(phase: Phase): Answer | undefined | Promise<Answer | undefined> {
    if (phase.response !== undefined) this.#entered.push(phase);
    return phase.request?.(this);
  }

  /** Passes `res` back through the response steps of the phases entered so far. */
  unwind(res: OutgoingResponse): OutgoingResponse {
    let out = res;
    for (let i = this.#entered.length - 1; i >= 0; i--) out = this.#entered[i].response!(this, out);
    return out;
  }
}
