/**
 * Byte-level HTTP/1.1 for tests, written independently of the proxy's engine so that tests do
 * not check the engine with itself: a reader over a real connection, and one-message parsing
 * (head fields kept as sent, body decoded from Content-Length, chunked or close framing).
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

const encoder = new TextEncoder();

/** Bytes as a byte string (one char per byte), for heads and assertions. */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** A byte string (one char per byte, as `latin1` makes) as its bytes. */
export function latin1Bytes(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A string as bytes: ASCII text through TextEncoder, byte strings as they are. */
export function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** Writes all of `data` (a single write may take only part). */
export async function writeAll(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  const bytes = bytesOf(data);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** A buffered reader over a connection; reads fail (reject) when the connection breaks. */
export class WireReader {
  readonly conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** True once the peer closed and everything buffered was consumed. */
  get done(): boolean {
    return this.#eof && this.#buf.length === 0;
  }

  /** Reads more bytes; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const grown = new Uint8Array(this.#buf.length + n);
    grown.set(this.#buf);
    grown.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = grown;
    return true;
  }

  /** Bytes up to and including `delimiter`; null when the stream ends before any byte. */
  async readUntil(delimiter: string): Promise<Uint8Array | null> {
    const d = bytesOf(delimiter);
    while (true) {
      const at = indexOf(this.#buf, d);
      if (at >= 0) return this.take(at + d.length);
      if (!(await this.fill())) {
        if (this.#buf.length === 0) return null;
        throw new Error(`connection closed before ${JSON.stringify(delimiter)}`);
      }
    }
  }

  /** Exactly `n` bytes. */
  async readExactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.fill())) throw new Error(`connection closed ${n - this.#buf.length} early`);
    }
    return this.take(n);
  }

  /** Everything until the peer closes. */
  async readToEnd(): Promise<Uint8Array> {
    while (await this.fill());
    return this.take(this.#buf.length);
  }

  /** A chunked body, decoded; trailers are skipped. */
  async readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    while (true) {
      const line = latin1((await this.readUntil("\r\n"))!);
      const size = parseInt(line.split(";")[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
      if (size === 0) {
        while (latin1((await this.readUntil("\r\n"))!) !== "\r\n");
        return concatBytes(parts);
      }
      parts.push(await this.readExactly(size));
      await this.readExactly(2);
    }
  }

  /** Consumes `n` buffered bytes. */
  take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    this.#recorded?.push(out);
    return out;
  }

  #recorded: Uint8Array[] | null = null;

  /** Runs `read` and returns its result with every byte it consumed, as received. */
  async recording<T>(read: () => Promise<T>): Promise<[T, Uint8Array]> {
    this.#recorded = [];
    try {
      const result = await read();
      return [result, concatBytes(this.#recorded)];
    } finally {
      this.#recorded = null;
    }
  }
}

/** One message head: start line and fields (names as sent). */
export interface Head {
  /** The head as received, up to and including the blank line. */
  readonly raw: string;
  readonly startLine: string;
  readonly fields: readonly (readonly [string, string])[];
}

/** First value of a field (case-insensitive name), or null. */
export function field(head: Head, name: string): string | null {
  const key = name.toLowerCase();
  return head.fields.find(([n]) => n.toLowerCase() === key)?.[1] ?? null;
}

/** Lowercase names of every field in the head. */
export function fieldNames(head: Head): string[] {
  return head.fields.map(([n]) => n.toLowerCase());
}

/** Reads one head; null when the peer closed before sending one. */
export async function readHead(reader: WireReader): Promise<Head | null> {
  const bytes = await reader.readUntil("\r\n\r\n");
  if (bytes === null) return null;
  const raw = latin1(bytes);
  const [startLine, ...lines] = raw.slice(0, -4).split("\r\n");
  const fields = lines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon), line.slice(colon + 1).trim()] as const;
  });
  return { raw, startLine, fields };
}

/** Reads the body a head announces; `untilClose` for a response without length or chunking. */
export async function readBody(reader: WireReader, head: Head, untilClose: boolean) {
  const te = field(head, "transfer-encoding");
  if (te !== null && te.toLowerCase().includes("chunked")) return await reader.readChunked();
  const cl = field(head, "content-length");
  if (cl !== null) return await reader.readExactly(Number(cl));
  return untilClose ? await reader.readToEnd() : new Uint8Array(0);
}

/** A response read off the wire. */
export interface WireResponse extends Head {
  readonly status: number;
  readonly body: Uint8Array;
  /** The body as UTF-8 text. */
  readonly text: string;
}

/** Reads one response to a `method` request. */
export async function readResponse(reader: WireReader, method = "GET"): Promise<WireResponse> {
  const head = await readHead(reader);
  if (head === null) throw new Error("connection closed before a response");
  const status = Number(head.startLine.split(" ")[1]);
  const bodyless = method === "HEAD" || status < 200 || status === 204 || status === 304;
  const body = bodyless ? new Uint8Array(0) : await readBody(reader, head, true);
  return { ...head, status, body, text: new TextDecoder().decode(body) };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first); i >= 0; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/**
 * A `GET /` for `host` on the connection `open` makes, answered 200: the connection, kept open;
 * or null when the peer refused it (closed it, or failed its handshake) without answering. Any
 * other answer, or none within 5 s, throws.
 */
export async function servedOrClosed(
  open: () => Promise<Deno.Conn>,
  host: string,
): Promise<Deno.Conn | null> {
  let conn: Deno.Conn;
  try {
    conn = await open();
  } catch {
    return null;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer nor close within 5 s")), 5000);
  });
  let res: WireResponse;
  try {
    await writeAll(conn, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    res = await Promise.race([readResponse(new WireReader(conn)), late]);
  } catch (err) {
    conn.close();
    if (err instanceof Error && err.message.startsWith("no answer")) throw err;
    return null;
  } finally {
    clearTimeout(timer);
  }
  if (res.status !== 200) {
    conn.close();
    throw new Error(`Expected 200 or a refusal, got ${res.status}`);
  }
  return conn;
}
