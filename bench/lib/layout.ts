/**
 * Where everything lives in one bench run: generated files under bench/out/, the ports of the
 * shared upstreams and of each proxy, the paths requested, and the CPU pinning.
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "./net.ts";

/** Repository root and bench/out. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const OUT = join(ROOT, "bench", "out");

/** Paths requested from the upstream (through a proxy or directly). */
export const PATHS = {
  small: "/",
  /** The small response again, on a route with ip_allow, headers and rate_limit. */
  middlewares: "/mw",
  large: "/1m.bin",
  json: "/data.json",
  ws: "/ws",
};

/** The gRPC method called (bench/servers/grpc_echo.ts answers any POST as a unary call). */
export const GRPC_PATH = "/bench.Echo/Unary";

/** gRPC messages bench/servers/grpc_echo.ts sends for a call to a `.../ServerStream` method. */
export const GRPC_STREAM_MESSAGES = 10;

/** The body of every gRPC call: a 5-byte gRPC message prefix (uncompressed) and 12 bytes. */
export const GRPC_REQUEST = new Uint8Array([
  0,
  0,
  0,
  0,
  12,
  ...new TextEncoder().encode("hello server"),
]);

/** Sizes of the upstream's content. */
export const SIZES = { large: 1024 * 1024, json: 100 * 1024 };

/**
 * Compression levels every proxy is configured with, where it has a knob: Gatehouse's defaults
 * (config/REFERENCE.md, compression.levels), so each proxy does the same work per byte.
 */
export const LEVELS = { gzip: 4, br: 4 };

/** Sockets a target serves; a missing one means the scenario is n/a for it. */
export interface Endpoints {
  /** Plain HTTP/1.1. */
  http?: number;
  /** Plain HTTP/1.1 taking WebSocket upgrades on PATHS.ws. */
  ws?: number;
  /** TLS with ALPN h2 and http/1.1. */
  https?: number;
  /** Plain TCP to the upstream that sends the number of bytes asked for. */
  tcpSource?: number;
  /** Plain TCP to the echo upstream. */
  tcpEcho?: number;
  /** Plain HTTP/1.1 with response compression on. */
  compress?: number;
  /** UDP to the echo upstream. */
  udpEcho?: number;
  /** Plain HTTP/2 with prior knowledge (h2c), to the HTTP/1.1 upstream. */
  h2c?: number;
  /** Plain HTTP/2 with prior knowledge to the gRPC upstream (h2c both sides). */
  grpc?: number;
}

/** Ports of the shared upstreams. */
export interface Upstreams {
  http: number;
  https: number;
  ws: number;
  tcpSource: number;
  tcpEcho: number;
  udpEcho: number;
  /** The upstream nginx's h2c (prior knowledge) listener. */
  h2c: number;
  /** bench/servers/grpc_echo.ts. */
  grpc: number;
}

/** CPU lists for taskset. */
export interface Pinning {
  /** Load generators, the upstreams and the harness. */
  load: string;
  /** The proxy under test. */
  proxy: string;
  pinned: boolean;
}

/** Files shared by every config. */
export interface Files {
  out: string;
  logs: string;
  www: string;
  cert: string;
  key: string;
  ca: string;
  /** Certificate followed by key, for HAProxy's `crt`. */
  bundle: string;
}

/**
 * Workers (processes, threads, isolates) of each proxy under test: 1 when pinned, "auto" for
 * each proxy's default (nginx `worker_processes auto`, HAProxy's default threads, Caddy's default
 * GOMAXPROCS, Gatehouse `workers: auto`), or a number for the scaling runs.
 */
export type Workers = number | "auto";

/** Everything a config generator or a scenario needs to know about the run. */
export interface Layout {
  files: Files;
  upstreams: Upstreams;
  pinning: Pinning;
  workers: Workers;
}

/** Picks free ports for the shared upstreams. */
export function upstreamPorts(): Upstreams {
  return {
    http: freePort(),
    https: freePort(),
    ws: freePort(),
    tcpSource: freePort(),
    tcpEcho: freePort(),
    udpEcho: freePort(),
    h2c: freePort(),
    grpc: freePort(),
  };
}

/** Ports of one proxy's listeners. */
export type ProxyPorts = Required<Omit<Endpoints, "ws">>;

/** Picks free ports for one proxy's listeners. */
export function proxyPorts(): ProxyPorts {
  return {
    http: freePort(),
    https: freePort(),
    tcpSource: freePort(),
    tcpEcho: freePort(),
    compress: freePort(),
    udpEcho: freePort(),
    h2c: freePort(),
    grpc: freePort(),
  };
}

/** The sockets a proxy started on `ports` serves (WebSocket on its plain HTTP port). */
export function proxyEndpoints(ports: ProxyPorts): Required<Endpoints> {
  return { ...ports, ws: ports.http };
}

/** The pinning used unless --unpinned: the proxy alone on the last core, the rest on the others. */
export function pinning(pinned: boolean, cores: number): Pinning {
  const all = `0-${cores - 1}`;
  if (!pinned || cores < 2) return { load: all, proxy: all, pinned: false };
  return { load: cores === 2 ? "0" : `0-${cores - 2}`, proxy: String(cores - 1), pinned: true };
}
