/**
 * An RFC 8555 client over fetch and Web Crypto: the directory, nonces (with the badNonce retry
 * RFC 8555 section 6.5 asks for), signed POSTs and POST-as-GETs, polling with Retry-After, and
 * ACME Renewal Information (RFC 9773). The flow that uses it to get a certificate is issue.ts.
 *
 * @module
 */
import { type EcJwk, publicJwk, type Signer, signJws, thumbprint } from "./jws.ts";

/** The directory object (RFC 8555 section 7.1.1); `renewalInfo` is RFC 9773. */
export interface Directory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  readonly renewalInfo?: string;
  readonly meta?: { readonly termsOfService?: string };
}

/** An ACME object as the server sent it, with its URL (Location, or the URL fetched). */
export interface AcmeObject {
  readonly url: string;
  readonly body: Record<string, unknown>;
  /** Milliseconds the server asked the client to wait (Retry-After), if it did. */
  readonly retryAfterMs: number | null;
}

/** A suggested renewal window (RFC 9773 section 4.2). */
export interface RenewalInfo {
  readonly start: Date;
  readonly end: Date;
  /** When to ask again (Retry-After), if the server said. */
  readonly retryAfterMs: number | null;
}

export interface AcmeClientOptions {
  readonly directoryUrl: string;
  /** EC P-256 account key. */
  readonly accountKey: CryptoKeyPair;
  /** Extra trusted CA certificates (PEM) for the ACME server's own TLS; null = system roots. */
  readonly caPem: string | null;
  /** Limit for each HTTP request. */
  readonly timeoutMs: number;
  /** Aborts every request and wait (Gatehouse stopping). */
  readonly signal: AbortSignal;
}

/** An error document from the server (RFC 7807), or a transport failure. */
export class AcmeError extends Error {
  /** "urn:ietf:params:acme:error:badNonce"..., or "" when the server sent no problem. */
  readonly type: string;
  constructor(message: string, type = "") {
    super(message);
    this.type = type;
  }
}

const BAD_NONCE = "urn:ietf:params:acme:error:badNonce";
const BAD_NONCE_RETRIES = 5;
const POLL_LIMIT_MS = 180_000;

export class AcmeClient {
  readonly #opts: AcmeClientOptions;
  readonly #http: Deno.HttpClient | undefined;
  #directory: Promise<Directory> | null = null;
  #jwk: Promise<EcJwk> | null = null;
  #nonces: string[] = [];
  /** The account URL once `account` ran; signs requests as `kid` from then on. */
  #kid: string | null = null;

  constructor(opts: AcmeClientOptions) {
    this.#opts = opts;
    this.#http = opts.caPem === null ? undefined : Deno.createHttpClient({ caCerts: [opts.caPem] });
  }

  /** True once `account` ran: requests are signed with the account URL. */
  get registered(): boolean {
    return this.#kid !== null;
  }

  /** The directory, fetched once. */
  directory(): Promise<Directory> {
    this.#directory ??= this.#loadDirectory().catch((err) => {
      this.#directory = null;
      throw err;
    });
    return this.#directory;
  }

  /** The HTTP-01 key authorization for a challenge token (RFC 8555 section 8.1). */
  async keyAuthorization(token: string): Promise<string> {
    return `${token}.${await thumbprint(await this.#publicJwk())}`;
  }

  /**
   * Finds or creates the account of this key (newAccount is idempotent per key), agreeing to the
   * terms of service, and makes its contact list `contact`. Returns the account URL.
   */
  async account(contact: readonly string[]): Promise<string> {
    const dir = await this.directory();
    const res = await this.post(dir.newAccount, { termsOfServiceAgreed: true, contact });
    this.#kid = res.url;
    const current = (res.body.contact as string[] | undefined) ?? [];
    if (current.join() !== contact.join()) await this.post(res.url, { contact });
    return res.url;
  }

  /** Places an order for `names`; `replaces` is the RFC 9773 id of the certificate it renews. */
  async newOrder(names: readonly string[], replaces: string | null): Promise<AcmeObject> {
    const identifiers = names.map((value) => ({ type: "dns", value }));
    const payload = replaces === null ? { identifiers } : { identifiers, replaces };
    return this.post((await this.directory()).newOrder, payload);
  }

  /** Polls `url` (POST-as-GET) until `done` says so; honours Retry-After. */
  async poll(url: string, done: (body: Record<string, unknown>) => boolean): Promise<AcmeObject> {
    const deadline = Date.now() + POLL_LIMIT_MS;
    for (let wait = 250;; wait = Math.min(wait * 2, 5000)) {
      const obj = await this.post(url, undefined);
      if (done(obj.body)) return obj;
      if (Date.now() > deadline) {
        throw new AcmeError(`gave up waiting for ${url}: still "${obj.body.status}"`);
      }
      await delay(Math.min(obj.retryAfterMs ?? wait, 30_000), this.#opts.signal);
    }
  }

  /** Downloads a certificate chain as PEM (RFC 8555 section 7.4.2). */
  async certificateChain(url: string): Promise<string> {
    const res = await this.#signed(url, undefined, "application/pem-certificate-chain");
    return await res.text();
  }

  /** The CA's renewal window for a certificate (RFC 9773), or null if it offers none. */
  async renewalInfo(certId: string): Promise<RenewalInfo | null> {
    const base = (await this.directory()).renewalInfo;
    if (base === undefined) return null;
    const url = `${base.replace(/\/$/, "")}/${certId}`;
    const res = await this.#fetch(url, { method: "GET" });
    const body = await readJson(res, `renewal information at ${url}`);
    const window = body.suggestedWindow as { start?: string; end?: string } | undefined;
    const start = new Date(window?.start ?? NaN);
    const end = new Date(window?.end ?? NaN);
    if (isNaN(start.getTime()) || isNaN(end.getTime()) || end < start) {
      throw new AcmeError(`renewal information at ${url} has no valid "suggestedWindow"`);
    }
    return { start, end, retryAfterMs: retryAfter(res.headers) };
  }

  /** A signed POST (or POST-as-GET when `payload` is undefined) answered with JSON. */
  async post(url: string, payload: unknown): Promise<AcmeObject> {
    const res = await this.#signed(url, payload, "application/json");
    const body = res.status === 204 ? {} : await readJson(res, url);
    const location = res.headers.get("location");
    return { url: location ?? url, body, retryAfterMs: retryAfter(res.headers) };
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#http?.close();
  }

  async #signed(url: string, payload: unknown, accept: string): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const nonce = await this.#nonce();
      const signer: Signer = this.#kid === null
        ? { jwk: await this.#publicJwk() }
        : { kid: this.#kid };
      const jws = await signJws({
        privateKey: this.#opts.accountKey.privateKey,
        signer,
        nonce,
        url,
        payload,
      });
      const res = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/jose+json", accept },
        body: JSON.stringify(jws),
      });
      if (res.ok) return res;
      const problem = await readProblem(res, url);
      if (problem.type !== BAD_NONCE || attempt >= BAD_NONCE_RETRIES) throw problem;
    }
  }

  async #nonce(): Promise<string> {
    const saved = this.#nonces.pop();
    if (saved !== undefined) return saved;
    const url = (await this.directory()).newNonce;
    const res = await this.#fetch(url, { method: "HEAD" });
    await res.body?.cancel();
    const nonce = res.headers.get("replay-nonce");
    if (nonce === null) throw new AcmeError(`${url} answered without a Replay-Nonce header`);
    return nonce;
  }

  #publicJwk(): Promise<EcJwk> {
    this.#jwk ??= publicJwk(this.#opts.accountKey);
    return this.#jwk;
  }

  async #loadDirectory(): Promise<Directory> {
    const url = this.#opts.directoryUrl;
    const res = await this.#fetch(url, { method: "GET" });
    const body = await readJson(res, `the ACME directory ${url}`);
    for (const key of ["newNonce", "newAccount", "newOrder"]) {
      if (typeof body[key] !== "string") {
        throw new AcmeError(`${url} is not an ACME directory: "${key}" is missing`);
      }
    }
    return body as unknown as Directory;
  }

  /** fetch with the CA bundle, the request timeout, and a message naming the URL on failure. */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    const signal = AbortSignal.any([this.#opts.signal, AbortSignal.timeout(this.#opts.timeoutMs)]);
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal, client: this.#http, redirect: "manual" });
    } catch (err) {
      if (this.#opts.signal.aborted) throw this.#opts.signal.reason;
      const reason = signal.aborted
        ? `no answer within ${this.#opts.timeoutMs / 1000}s`
        : (err as Error).message;
      throw new AcmeError(`Cannot reach the ACME server at ${url}: ${reason}`);
    }
    const nonce = res.headers.get("replay-nonce");
    if (nonce !== null) this.#nonces.push(nonce);
    return res;
  }
}

async function readJson(res: Response, what: string): Promise<Record<string, unknown>> {
  if (!res.ok) throw await readProblem(res, what);
  try {
    const body = await res.json();
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body;
  } catch {
    // reported below
  }
  throw new AcmeError(`${what} answered ${res.status} without a JSON object`);
}

async function readProblem(res: Response, what: string): Promise<AcmeError> {
  const text = await res.text();
  let type = "";
  let detail = text.slice(0, 200);
  try {
    const problem = JSON.parse(text);
    type = typeof problem.type === "string" ? problem.type : "";
    detail = typeof problem.detail === "string" ? problem.detail : detail;
  } catch {
    // not a problem document: keep the start of the text
  }
  const short = type.replace("urn:ietf:params:acme:error:", "");
  return new AcmeError(
    `${what} answered ${res.status}${short ? ` ${short}` : ""}: ${detail}`,
    type,
  );
}

/** Retry-After in milliseconds (seconds or an HTTP date), or null. */
function retryAfter(headers: Headers): number | null {
  const value = headers.get("retry-after");
  if (value === null) return null;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
