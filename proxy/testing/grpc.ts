/**
 * python3-grpcio as a gRPC server and client for tests (proxy/testing/grpc_peer.py, which says
 * what its methods and call modes do).
 *
 * ```ts
 * await using server = await grpcServer();
 * const res = await grpcCall(`127.0.0.1:${port}`, "unary");
 * assert.equal(res.code, "OK");
 * ```
 *
 * @module
 */
import { SYSTEM_PYTHON } from "./prometheus.ts";
import { runTool } from "./h2_tools.ts";

const GRPC_PEER = new URL("./grpc_peer.py", import.meta.url).pathname;

export interface GrpcServer extends AsyncDisposable {
  readonly port: number;
  /** Lines the server printed after its port ("cancelled Slow", ...). */
  readonly lines: readonly string[];
}

/** A grpcio server on 127.0.0.1 (h2c, or TLS with these files), stopped when disposed. */
export async function grpcServer(
  tls?: { readonly certPath: string; readonly keyPath: string },
): Promise<GrpcServer> {
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: [GRPC_PEER, "serve", ...(tls ? [tls.certPath, tls.keyPath] : [])],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  let port = 0;
  const { promise: started, resolve: ready } = Promise.withResolvers<void>();
  const reading = (async () => {
    let buffered = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (port === 0) {
          port = Number(line);
          ready();
        } else lines.push(line);
      }
    }
    ready();
  })();
  await started;
  if (port === 0) throw new Error("Cannot start the grpcio test server: it printed no port");
  return {
    port,
    lines,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await reading.catch(() => {});
    },
  };
}

/** What grpc_peer.py's client saw. */
export interface GrpcCallResult {
  /** The status code's name: "OK", "UNAVAILABLE", ... */
  readonly code: string;
  readonly details: string | null;
  readonly replies: (string | number)[];
  readonly trailers: Record<string, string>;
  /** grpc-status-details-bin as hex, when the call failed with one. */
  readonly details_bin: string | null;
}

/** One grpc_peer.py call `mode` to `target` ("127.0.0.1:PORT"), over TLS when `caFile` is set. */
export async function grpcCall(
  target: string,
  mode: string,
  caFile?: string,
): Promise<GrpcCallResult> {
  const out = await runTool(SYSTEM_PYTHON, [
    GRPC_PEER,
    "call",
    target,
    mode,
    ...(caFile ? [caFile] : []),
  ]);
  if (out.code !== 0) throw new Error(`grpc_peer.py call ${mode} failed: ${out.stderr}`);
  return JSON.parse(out.stdout);
}
