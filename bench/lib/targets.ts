/**
 * The targets of every scenario: the shared upstreams ("direct") and each proxy, started with
 * its generated config, pinned, and described by the sockets it serves.
 *
 * @module
 */
import { join } from "node:path";
import { caddyConfig } from "../configs/caddy.ts";
import { gatehouseConfig, type GatehouseFeature } from "../configs/gatehouse.ts";
import { haproxyConfig } from "../configs/haproxy.ts";
import { nginxConfig } from "../configs/nginx.ts";
import { upstreamNginxConfig } from "../configs/upstream.ts";
import { type Endpoints, type Layout, proxyEndpoints, proxyPorts, ROOT } from "./layout.ts";
import { freePort, waitForLogLine, waitForPort, waitForUdpEcho } from "./net.ts";
import { processTree, type Spawned, type Supervisor } from "./procs.ts";
import { command } from "./tools.ts";
import { V8_FLAGS_ARG } from "../../proxy/internal/v8_flags.ts";

/** Names of the targets, in table order. */
export const TARGET_NAMES = [
  "direct",
  "gatehouse",
  "gatehouse-full",
  "nginx",
  "haproxy",
  "caddy",
] as const;
export type TargetName = typeof TARGET_NAMES[number];

/** Proxies other than Gatehouse: the peers Gatehouse is compared with. */
export const PEERS: readonly TargetName[] = ["nginx", "haproxy", "caddy"];

/** Capabilities a target may lack. */
export type Capability = keyof Endpoints | "br";

/** A running target. */
export interface Target {
  name: TargetName;
  endpoints: Endpoints;
  /** Why a capability is missing ("n/a" reasons for the table). */
  lacks: Partial<Record<Capability, string>>;
  /** Main process (none for direct: its CPU and memory are not the proxy's). */
  process?: Spawned;
  /** Stops the process and starts it again with the same config and ports. */
  restart?: () => Promise<void>;
  /** Generated config files, for RESULTS.md. */
  configs: string[];
  /** The command lines that started it. */
  commands: string[];
}

/** The processes of a target whose CPU and memory are measured. */
export function targetPids(target: Target): Promise<number[]> {
  return target.process ? processTree(target.process.pid) : Promise.resolve([]);
}

/** Starts the shared upstreams; the "direct" target is them, without a proxy. */
export async function startUpstreams(layout: Layout, sup: Supervisor): Promise<Target> {
  const { files, upstreams, pinning } = layout;
  const conf = await write(files.out, "upstream-nginx.conf", upstreamNginxConfig(layout));
  const nginxArgv = ["nginx", "-e", join(files.logs, "upstream-nginx.stderr.log"), "-c", conf];
  const deno = [Deno.execPath(), "run", "--allow-net"];
  const wsArgv = [...deno, join(ROOT, "bench/servers/ws_echo.ts"), String(upstreams.ws)];
  const tcpArgv = [
    ...deno,
    join(ROOT, "bench/servers/tcp_upstream.ts"),
    String(upstreams.tcpSource),
    String(upstreams.tcpEcho),
  ];
  const udpArgv = [
    ...deno.slice(0, 2),
    "--unstable-net",
    ...deno.slice(2),
    join(ROOT, "bench/servers/udp_echo.ts"),
    String(upstreams.udpEcho),
  ];
  const grpcArgv = [...deno, join(ROOT, "bench/servers/grpc_echo.ts"), String(upstreams.grpc)];
  const log = (name: string) => ({ cpus: pinning.load, log: join(files.logs, `${name}.log`) });
  const nginx = sup.spawn("upstream nginx", nginxArgv, log("upstream-nginx"));
  const ws = sup.spawn("WebSocket echo upstream", wsArgv, log("upstream-ws"));
  const tcp = sup.spawn("TCP upstream", tcpArgv, log("upstream-tcp"));
  const udp = sup.spawn("UDP echo upstream", udpArgv, log("upstream-udp"));
  const grpc = sup.spawn("gRPC upstream", grpcArgv, log("upstream-grpc"));
  await Promise.all([
    waitForPort(upstreams.http, nginx),
    waitForPort(upstreams.https, nginx),
    waitForPort(upstreams.ws, ws),
    waitForPort(upstreams.tcpSource, tcp),
    waitForPort(upstreams.tcpEcho, tcp),
    waitForUdpEcho(upstreams.udpEcho, udp),
    waitForPort(upstreams.h2c, nginx),
    waitForPort(upstreams.grpc, grpc),
  ]);
  return {
    name: "direct",
    endpoints: {
      http: upstreams.http,
      ws: upstreams.ws,
      https: upstreams.https,
      tcpSource: upstreams.tcpSource,
      tcpEcho: upstreams.tcpEcho,
      compress: upstreams.http,
      udpEcho: upstreams.udpEcho,
      h2c: upstreams.h2c,
      grpc: upstreams.grpc,
    },
    lacks: {},
    configs: [conf],
    commands: [nginxArgv, wsArgv, tcpArgv, udpArgv, grpcArgv].map((a) => a.join(" ")),
  };
}

/** Starts one proxy target, pinned to the proxy CPUs, and waits until all its ports accept. */
export async function startProxy(
  name: Exclude<TargetName, "direct">,
  layout: Layout,
  sup: Supervisor,
  brotli: boolean,
  gatehouseFeatures: ReadonlyMap<GatehouseFeature, string | null>,
): Promise<Target> {
  const { files, pinning } = layout;
  const ports = proxyPorts();
  const lacks: Target["lacks"] = {};
  let argv: string[];
  let config: string;
  /** A log line that says the target is ready, where ports alone do not. */
  let ready: RegExp | null = null;
  const env: Record<string, string> = {};
  switch (name) {
    case "nginx":
      config = await write(files.out, "nginx.conf", nginxConfig(layout, ports, brotli));
      argv = ["nginx", "-e", join(files.logs, "nginx.stderr.log"), "-c", config];
      if (!brotli) lacks.br = "Debian's libnginx-mod-http-brotli-filter is not installed";
      break;
    case "haproxy":
      config = await write(files.out, "haproxy.cfg", haproxyConfig(layout, ports));
      argv = ["haproxy", "-db", "-f", config];
      lacks.br = "HAProxy has no brotli encoder";
      lacks.udpEcho = "HAProxy cannot forward UDP (its UDP is for logs and QUIC only)";
      break;
    case "caddy":
      config = await write(files.out, "Caddyfile", caddyConfig(layout, ports));
      argv = ["caddy", "run", "--adapter", "caddyfile", "--config", config];
      Object.assign(env, {
        ...(layout.workers === "auto" ? {} : { GOMAXPROCS: String(layout.workers) }),
        HOME: join(files.out, "caddy-home"),
        XDG_DATA_HOME: join(files.out, "caddy-data"),
        XDG_CONFIG_HOME: join(files.out, "caddy-config"),
      });
      lacks.tcpSource = lacks.tcpEcho = "Caddy has no core layer-4 proxy (caddy-l4 is a plugin)";
      lacks.br = "Caddy's encode has no brotli encoder";
      lacks.udpEcho = "Caddy has no core UDP proxy (caddy-l4 is a plugin)";
      break;
    default: {
      const full = name === "gatehouse-full";
      const variant = { full, adminPort: full ? freePort() : undefined };
      const features = new Set(
        [...gatehouseFeatures].filter(([, no]) => no === null).map(([f]) => f),
      );
      const text = gatehouseConfig(layout, ports, variant, features);
      // As `deno task start` and the image run it (docs/runtime.md, the saturation stall), with
      // the same V8 flags (proxy/internal/v8_flags.ts).
      env.DENO_TOKIO_MAX_IO_EVENTS_PER_TICK = "32";
      env.DENO_NO_UPDATE_CHECK = "1";
      if (!features.has("workers") && layout.workers !== 1) {
        console.error(
          `Gatehouse runs one JavaScript thread: workers ${gatehouseFeatures.get("workers")}`,
        );
      }
      config = await write(files.out, `${name}.yaml`, text);
      ready = /Gatehouse \S+ serving /;
      argv = [
        Deno.execPath(),
        "run",
        "-A",
        V8_FLAGS_ARG,
        join(ROOT, "proxy/main.ts"),
        "--config",
        config,
      ];
      const tcpGap = gatehouseFeatures.get("tcp");
      const compressionGap = gatehouseFeatures.get("compression");
      if (tcpGap) lacks.tcpSource = lacks.tcpEcho = tcpGap;
      if (compressionGap) lacks.compress = lacks.br = compressionGap;
      const h2cGap = gatehouseFeatures.get("h2c");
      if (h2cGap) lacks.h2c = lacks.grpc = h2cGap;
      const udpGap = gatehouseFeatures.get("udp");
      if (udpGap) lacks.udpEcho = udpGap;
    }
  }
  const endpoints: Endpoints = proxyEndpoints(ports);
  for (const key of Object.keys(lacks) as Capability[]) {
    if (key !== "br") delete endpoints[key];
  }
  const { udpEcho, ...streams } = endpoints;
  const listening = [...new Set(Object.values(streams) as number[])];
  let starts = 0;
  const launch = async () => {
    const log = join(files.logs, `${name}${starts++ > 0 ? `.${starts}` : ""}.log`);
    const process = sup.spawn(name, argv, { cpus: pinning.proxy, log, env, cwd: ROOT });
    await Promise.all(listening.map((port) => waitForPort(port, process)));
    // Gatehouse says "serving" once every worker listens; a port accepts with the first.
    if (ready) await waitForLogLine(log, ready, process);
    if (udpEcho) await waitForUdpEcho(udpEcho, process);
    return process;
  };
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v} `).join("");
  const target: Target = {
    name,
    endpoints,
    lacks,
    process: await launch(),
    configs: [config],
    commands: [envText + argv.join(" ")],
    async restart() {
      if (target.process) await sup.stop(target.process);
      target.process = await launch();
    },
  };
  return target;
}

/**
 * Which optional Gatehouse features this checkout accepts: for each, null when
 * `proxy/main.ts --check` passes a config using it, else why not ("n/a: ...").
 */
export async function probeGatehouse(
  layout: Layout,
): Promise<Map<GatehouseFeature, string | null>> {
  const result = new Map<GatehouseFeature, string | null>();
  const ports = proxyPorts();
  for (const feature of ["tcp", "compression", "workers", "udp", "h2c"] as GatehouseFeature[]) {
    const probe = { ...layout, workers: 2 };
    const text = gatehouseConfig(probe, ports, { full: false }, new Set([feature]));
    const file = await write(layout.files.out, `gatehouse-probe-${feature}.yaml`, text);
    const main = join(ROOT, "proxy/main.ts");
    const checked = await command([
      Deno.execPath(),
      "run",
      "-A",
      main,
      "--check",
      "--config",
      file,
    ]);
    const firstError = checked.text.split("\n").find((l) => l.includes(file)) ?? checked.text;
    result.set(
      feature,
      checked.ok ? null : `not implemented yet (--check: ${firstError.replace(file, "config")})`,
    );
  }
  return result;
}

async function write(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}
