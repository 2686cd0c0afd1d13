/**
 * Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), on loopback for tests:
 * `pebble` with a generated config and HTTPS certificate, and `pebble-challtestsrv` as its DNS
 * server answering 127.0.0.1 for every name (so HTTP-01 validation connects to the test's
 * plain entrypoint on `httpPort`). Both are stopped by PID on close.
 *
 * ```ts
 * await using pebble = await startPebble({ httpPort });
 * // acme: { directory: pebble.directoryUrl, ca_file: pebble.caFile, agree_tos: true }
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { createCa, createLeaf } from "../pki/generate.ts";
import { closedPorts, waitFor } from "./servers.ts";

export interface PebbleOptions {
  /** Port Pebble connects to for HTTP-01 (the test's plain entrypoint). */
  readonly httpPort: number;
  /** Lifetime of issued certificates in seconds (Pebble's `certificateValidityPeriod`). */
  readonly validitySeconds?: number;
}

export interface Pebble extends AsyncDisposable {
  /** "https://127.0.0.1:<port>/dir". */
  readonly directoryUrl: string;
  /** File with the CA of Pebble's own HTTPS certificate (for `acme.ca_file`). */
  readonly caFile: string;
  readonly caPem: string;
  /** Pebble's issuing root, from its management interface (new on every start). */
  root(): Promise<string>;
  /** Makes DNS answer `ip` for `host` (A record); `null` restores the default 127.0.0.1. */
  setAddress(host: string, ip: string | null): Promise<void>;
  /** What Pebble logged so far. */
  log(): string;
  close(): Promise<void>;
}

/** Starts pebble-challtestsrv and pebble; resolves once the directory answers. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-pebble-" });
  const ca = await createCa({ commonName: "Pebble HTTPS test CA", days: 1 });
  const leaf = await createLeaf({
    ca,
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    days: 1,
  });
  const caFile = join(dir, "ca.pem");
  await Deno.writeTextFile(caFile, ca.certPem);
  await Deno.writeTextFile(join(dir, "cert.pem"), leaf.certPem);
  await Deno.writeTextFile(join(dir, "key.pem"), leaf.keyPem, { mode: 0o600 });
  const [acmePort, managementPort, dnsPort, challPort, tlsPort] = closedPorts(5);
  await Deno.writeTextFile(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, "cert.pem"),
        privateKey: join(dir, "key.pem"),
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const challtestsrv = spawn("pebble-challtestsrv", [
    "-defaultIPv4",
    "127.0.0.1",
    "-defaultIPv6",
    "",
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-management",
    `127.0.0.1:${challPort}`,
  ], {});
  const pebble = spawn("pebble", [
    "-config",
    join(dir, "pebble.json"),
    "-dnsserver",
    `127.0.0.1:${dnsPort}`,
  ], {
    // No random validation delays; every order proves its names (no authorization reuse).
    PEBBLE_VA_NOSLEEP: "1",
    PEBBLE_AUTHZREUSE: "0",
    PEBBLE_WFE_ORDERS_PER_PAGE: "1000",
  });
  const http = Deno.createHttpClient({ caCerts: [ca.certPem] });
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  let closed: Promise<void> | null = null;
  const close = () =>
    closed ??= (async () => {
      await pebble.stop();
      await challtestsrv.stop();
      http.close();
      await Deno.remove(dir, { recursive: true });
    })();
  const management = async (path: string, body?: unknown) => {
    const url = body === undefined
      ? `https://127.0.0.1:${managementPort}${path}`
      : `http://127.0.0.1:${challPort}${path}`;
    const res = await fetch(url, {
      client: http,
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Pebble ${path} answered ${res.status}: ${text}`);
    return text;
  };
  try {
    await waitFor(
      async () => {
        if (pebble.exited || challtestsrv.exited) {
          throw new Error(`Pebble exited at start-up:\n${pebble.output()}${challtestsrv.output()}`);
        }
        try {
          const res = await fetch(directoryUrl, { client: http });
          await res.body?.cancel();
          return res.ok;
        } catch {
          return false;
        }
      },
      "Pebble's directory",
      15_000,
    );
    await waitFor(
      async () => {
        try {
          await management("/clear-a", { host: "ready.test" });
          return true;
        } catch {
          return false;
        }
      },
      "pebble-challtestsrv",
      15_000,
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    directoryUrl,
    caFile,
    caPem: ca.certPem,
    root: () => management("/roots/0"),
    async setAddress(host, ip) {
      if (ip === null) await management("/clear-a", { host });
      else await management("/add-a", { host, addresses: [ip] });
    },
    log: () => pebble.output(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Spawned {
  readonly exited: boolean;
  output(): string;
  /** SIGTERM by PID, then waits for the exit and the output. */
  stop(): Promise<void>;
}

function spawn(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  const collect = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text += chunk) }),
    );
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const status = child.status.then(() => void (exited = true));
  return {
    get exited() {
      return exited;
    },
    output: () => text,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await status;
      await collected;
    },
  };
}
