/**
 * Peers on unix sockets, written by others: gunicorn serving a small WSGI app (Debian's
 * gunicorn) and a socat echo (Debian's socat). Each is a separate process, started on a socket
 * path in a temp dir and stopped by its PID.
 *
 * @module
 */
import { join } from "node:path";
import { waitFor } from "./servers.ts";

/** A WSGI app answering every request with what it saw, as JSON. */
const WSGI_APP = `
import json
import os

def app(environ, start_response):
    body = json.dumps({
        "app": os.environ.get("APP_NAME", "app"),
        "host": environ.get("HTTP_HOST"),
        "path": environ.get("PATH_INFO"),
        "method": environ.get("REQUEST_METHOD"),
        "forwardedFor": environ.get("HTTP_X_FORWARDED_FOR"),
        "forwarded": environ.get("HTTP_FORWARDED"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
`;

export interface UnixPeer extends AsyncDisposable {
  /** The socket file it listens on. */
  readonly path: string;
  /** Stops the process (SIGTERM) and waits for it. */
  close(): Promise<void>;
}

/** True when a connection to the unix socket at `path` is accepted. */
export async function acceptsUnix(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch {
    return false;
  }
}

async function spawnOn(path: string, cmd: string, args: string[], env = {}): Promise<UnixPeer> {
  const child = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
  let err = "";
  const collected = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (err += text) }),
  );
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  let closed: Promise<void> | null = null;
  const close = () =>
    closed ??= (async () => {
      if (!exited) child.kill("SIGTERM");
      await status;
      await collected;
    })();
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`${cmd} exited at start-up:\n${err}`);
        return await acceptsUnix(path);
      },
      `${cmd} to listen on ${path}`,
      10_000,
    );
  } catch (e) {
    await close();
    throw e;
  }
  return { path, close, [Symbol.asyncDispose]: close };
}

/** gunicorn (one sync worker) on `<dir>/<name>.sock`, answering with what each request carried. */
export async function gunicornApp(dir: string, name: string): Promise<UnixPeer> {
  const appDir = join(dir, `${name}-app`);
  await Deno.mkdir(appDir, { recursive: true });
  await Deno.writeTextFile(join(appDir, "wsgi_echo.py"), WSGI_APP);
  const path = join(dir, `${name}.sock`);
  return await spawnOn(path, "gunicorn", [
    "--bind",
    `unix:${path}`,
    "--workers",
    "1",
    "--chdir",
    appDir,
    "--env",
    `APP_NAME=${name}`,
    "wsgi_echo:app",
  ]);
}

/** socat echoing every stream on the unix socket `path` back to its sender. */
export async function socatEcho(path: string): Promise<UnixPeer> {
  return await spawnOn(path, "socat", [`UNIX-LISTEN:${path},fork`, "EXEC:cat"]);
}
