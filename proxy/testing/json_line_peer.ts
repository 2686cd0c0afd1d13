/**
 * A Python peer process that prints `{"port": N}` once it listens, then one JSON record per line
 * (a request it saw, a session that ended). Used by python_ws.ts and auth_service.ts.
 *
 * @module
 */
import { SYSTEM_PYTHON } from "./prometheus.ts";
import { waitFor } from "./servers.ts";

export interface JsonLinePeer<T> {
  readonly port: number;
  /** The records printed so far, in order. */
  readonly records: T[];
  close(): Promise<void>;
}

/** Starts `python3 <args>` and waits (10 s at most) until it says its port. */
export async function jsonLinePeer<T>(args: string[], what: string): Promise<JsonLinePeer<T>> {
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const records: T[] = [];
  let port = 0;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  const reading = (async () => {
    for await (const line of lines) {
      const msg = JSON.parse(line);
      if (typeof msg.port === "number") port = msg.port;
      else records.push(msg);
    }
  })();
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await reading;
    })();
  try {
    await waitFor(() => port !== 0, `${what} to listen`, 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  return { port, records, close };
}

/** Splits a text stream into its non-empty lines. */
export function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) if (p.trim() !== "") controller.enqueue(p);
    },
  });
}
