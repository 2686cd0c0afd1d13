/**
 * HTTP/2 clients Gatehouse did not write, for tests: curl (`--http2`, `--http2-prior-knowledge`),
 * h2load and nghttp (nghttp2's tools), run as child processes with a deadline.
 *
 * ```ts
 * const res = await curl(["--http2-prior-knowledge", `http://127.0.0.1:${port}/`]);
 * assert.equal(res.version, "2");
 * const load = await h2load(`http://127.0.0.1:${port}/`, { requests: 2000, clients: 10, streams: 10 });
 * assert.equal(load.failed, 0);
 * ```
 *
 * @module
 */

export interface ToolOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd` to completion (killed after `timeoutMs`). */
export async function runTool(
  cmd: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<ToolOutput> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

export interface CurlResult {
  readonly status: number;
  /** "1.1" or "2". */
  readonly version: string;
  readonly body: string;
  /** Response header lines as curl printed them (`-D -` style), lowercase names. */
  readonly headers: Map<string, string>;
}

/** curl with `args` (flags and URL); prints the head, the body, the status and the version. */
export async function curl(args: readonly string[]): Promise<CurlResult> {
  const marker = "\n--curl-end--";
  const out = await runTool("curl", [
    "-sS",
    "-D",
    "-",
    "-w",
    `${marker}%{http_code} %{http_version}`,
    ...args,
  ]);
  if (out.code !== 0) throw new Error(`curl ${args.join(" ")} failed: ${out.stderr}`);
  const end = out.stdout.lastIndexOf(marker);
  const [status, version] = out.stdout.slice(end + marker.length).split(" ");
  const text = out.stdout.slice(0, end);
  const split = text.indexOf("\r\n\r\n");
  const headers = new Map<string, string>();
  for (const line of text.slice(0, split).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(status), version, body: text.slice(split + 4), headers };
}

export interface H2loadOptions {
  readonly requests: number;
  readonly clients: number;
  /** Concurrent streams per client connection (-m). */
  readonly streams: number;
  /** Extra arguments (-d FILE, -H ...). */
  readonly extra?: readonly string[];
}

/** h2load's request counts. */
export interface H2loadCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
  readonly status4xx: number;
  readonly output: string;
}

/** Runs h2load against `url` (https:// is TLS with ALPN h2, http:// is h2c prior knowledge). */
export async function h2load(url: string, o: H2loadOptions): Promise<H2loadCounts> {
  const out = await runTool("h2load", [
    "-n",
    String(o.requests),
    "-c",
    String(o.clients),
    "-m",
    String(o.streams),
    ...(o.extra ?? []),
    url,
  ], 120_000);
  const m = out.stdout.match(
    /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
  );
  const codes = out.stdout.match(/^status codes: (\d+) 2xx, \d+ 3xx, (\d+) 4xx/m);
  if (m === null || codes === null) {
    throw new Error(`Cannot read h2load's summary:\n${out.stdout}\n${out.stderr}`);
  }
  return {
    total: Number(m[1]),
    succeeded: Number(m[2]),
    failed: Number(m[3]),
    errored: Number(m[4]),
    timeout: Number(m[5]),
    status2xx: Number(codes[1]),
    status4xx: Number(codes[2]),
    output: out.stdout,
  };
}

/** nghttp's view of one GET: status and body (`-v` frames in `frames`). */
export async function nghttp(url: string, extra: readonly string[] = []): Promise<ToolOutput> {
  return await runTool("nghttp", ["-v", ...extra, url]);
}
