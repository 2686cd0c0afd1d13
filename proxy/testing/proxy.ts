/**
 * A Gatehouse runtime in the test process, built from a YAML snippet, and clients for it.
 *
 * The snippet lives in a temp dir that holds the `writeTestCerts` files, so it refers to
 * `localhost.crt`, `a.test.crt`, `_wildcard.b.test.crt`, `other.test.crt` (and `.key`) by name.
 * Entrypoints should listen on `127.0.0.1:0`; `port(name)` tells the bound port.
 *
 * ```ts
 * await using gw = await startProxy(yaml`
 *   entrypoints: { web: { address: "127.0.0.1:0" } }
 *   routes: [{ service: app }]
 *   services: { app: { servers: [${up.url}] } }
 * `);
 * const res = await fetch(gw.url("/"));
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { formatConfigError, loadConfigText } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { Runtime, type RuntimeHooks } from "../app/runtime.ts";
import { prepareSockets } from "../listen/listener.ts";
import type { AccessRecord, TcpRecord, UdpRecord } from "../telemetry/records.ts";
import { type TestCertPaths, testPki, writeTestCerts } from "./certs.ts";
import { WireReader, writeAll } from "./wire.ts";

import { yaml } from "../config/test_helpers.ts";

export { yaml };

export interface TestProxy extends AsyncDisposable {
  readonly runtime: Runtime;
  readonly config: Config;
  /** The temp dir holding the config file and the test certificates. */
  readonly dir: string;
  readonly certs: TestCertPaths;
  /** Every finished request, as the access log would record it. */
  readonly outcomes: AccessRecord[];
  /** Every finished TCP connection (tcp_routes), as the access log would record it. */
  readonly tcpRecords: TcpRecord[];
  readonly udpRecords: UdpRecord[];
  /** Bound port of an entrypoint (default: the first one). */
  port(entrypoint?: string): number;
  /** "http://127.0.0.1:<port><path>", or "https://localhost:<port><path>" on a TLS entrypoint. */
  url(path?: string, entrypoint?: string): string;
  /** Shuts the runtime down (drains) and removes the temp dir. */
  close(): Promise<void>;
}

/**
 * Writes the test certificates and `yamlText` into a temp dir and loads it as a config; without
 * an `admin` key, the admin endpoint listens on a free port.
 */
export async function loadTestConfig(
  yamlText: string,
): Promise<{ config: Config; dir: string; certs: TestCertPaths }> {
  // The admin endpoint's default port (9901) is one for the whole machine: tests that run side
  // by side and do not choose their own get a free one.
  const indent = /^( *)\S/m.exec(yamlText)?.[1] ?? "";
  const text = new RegExp(`^${indent}admin:`, "m").test(yamlText)
    ? yamlText
    : `${yamlText.trimEnd()}\n${indent}admin: { address: "127.0.0.1:0" }\n`;
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-proxy-test-" });
  const certs = await writeTestCerts(dir);
  const file = join(dir, "gatehouse.yaml");
  await Deno.writeTextFile(file, text);
  const loaded = await loadConfigText(text, file);
  if (!loaded.ok) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(
      `Cannot load the test config:\n${loaded.errors.map(formatConfigError).join("\n")}`,
    );
  }
  return { config: loaded.config, dir, certs };
}

/**
 * Starts a runtime from a YAML snippet (see the module doc); `hooks` adds to the ones that fill
 * `outcomes` and `tcpRecords`.
 */
export async function startProxy(text: string, hooks: RuntimeHooks = {}): Promise<TestProxy> {
  const { config, dir, certs } = await loadTestConfig(text);
  const outcomes: AccessRecord[] = [];
  const tcpRecords: TcpRecord[] = [];
  const udpRecords: UdpRecord[] = [];
  let runtime: Runtime;
  try {
    await prepareSockets(config);
    runtime = Runtime.start(config, {
      ...hooks,
      onComplete: (o) => outcomes.push(o),
      onTcpClosed: (r) => tcpRecords.push(r),
      onUdpClosed: (r) => udpRecords.push(r),
    });
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  const first = Object.keys(config.entrypoints)[0];
  const port = (name = first) => {
    const p = runtime.port(name);
    if (p === undefined) throw new Error(`Cannot find entrypoint "${name}"`);
    return p;
  };
  let closed: Promise<void> | null = null;
  const close = () =>
    closed ??= (async () => {
      await runtime.shutdown();
      await Deno.remove(dir, { recursive: true });
    })();
  return {
    runtime,
    config,
    dir,
    certs,
    outcomes,
    tcpRecords,
    udpRecords,
    port,
    url(path = "/", name = first) {
      const tls = config.entrypoints[name]?.tls != null;
      return `${tls ? "https://localhost" : "http://127.0.0.1"}:${port(name)}${path}`;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Extra YAML for `proxyFor`. */
export interface ProxyForOptions {
  /** Flow-map entries added to the route, e.g. "max_body: 100B". */
  readonly route?: string;
  /** Flow-map entries added to the service, e.g. "retries: 0". */
  readonly service?: string;
  /** Top-level YAML appended to the file, e.g. "limits: { max_header: 1KiB }". */
  readonly config?: string;
}

/**
 * The usual test proxy: a plain entrypoint `web` and a TLS one `websecure` (the localhost
 * certificate), and one route for everything to service `app` with these servers.
 */
export async function proxyFor(
  servers: readonly (string | { readonly url: string; readonly weight: number })[],
  options: ProxyForOptions = {},
): Promise<TestProxy> {
  const route = options.route ? `, ${options.route}` : "";
  const service = options.service ? `, ${options.service}` : "";
  return await startProxy(
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app${route} }]
    services:
      app: { servers: ${JSON.stringify(servers)}${service} }
  ` + (options.config ?? ""),
  );
}

/** An HTTP client trusting the test CA; `version` pins the protocol ALPN negotiates. */
export async function tlsClient(version?: "1.1" | "2"): Promise<Deno.HttpClient> {
  const { caPem } = await testPki();
  return Deno.createHttpClient({
    caCerts: [caPem],
    http1: version !== "2",
    http2: version !== "1.1",
  });
}

export interface ConnectOptions {
  /** Open TLS with this SNI name (an IP address sends no SNI); plain TCP when absent. */
  readonly tls?: string;
  readonly alpn?: string[];
}

/** A raw client connection to 127.0.0.1:`port` with a reader for its responses. */
export interface RawClient extends Disposable {
  readonly conn: Deno.Conn;
  readonly reader: WireReader;
  send(data: string | Uint8Array): Promise<void>;
  close(): void;
}

/** Connects to 127.0.0.1:`port`, optionally over TLS trusting the test CA. */
export async function connect(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  let conn: Deno.Conn = tcp;
  if (options.tls !== undefined) {
    const { caPem } = await testPki();
    const tls = await Deno.startTls(tcp, {
      hostname: options.tls,
      caCerts: [caPem],
      alpnProtocols: options.alpn,
    });
    try {
      await tls.handshake();
    } catch (err) {
      tls.close();
      throw err;
    }
    conn = tls;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  };
  return {
    conn,
    reader: new WireReader(conn),
    send: (data) => writeAll(conn, data),
    close,
    [Symbol.dispose]: close,
  };
}
