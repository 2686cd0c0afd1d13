/**
 * A worker isolate of a multi-worker Gatehouse (`workers` > 1): it runs the whole data path
 * (listeners with SO_REUSEPORT, the pipeline, pools, TCP sessions, tunnels) on the config
 * snapshots the main isolate sends, with server health, connection counts and the counter store
 * in the main isolate's SharedArrayBuffers. Its log lines go to the main isolate in whole
 * batches; its metrics are summed by the main isolate at scrape time. It never runs health
 * checks, ACME, the admin endpoint or signal handlers (workers.ts, main isolate).
 *
 * Tested by workers_test.ts and main_test.ts (the process runs `workers: 2` there).
 */
/// <reference lib="deno.worker" />
import type { CertificateFile, Config } from "../config/types.ts";
import { HeaderList } from "../proto/header_list.ts";
import type { InternalService } from "../http/context.ts";
import { compressionStats } from "../http/compress/shortfall.ts";
import { SharedConnectionCounts } from "../net/connection_counts.ts";
import { CounterStore } from "../net/shared_counters.ts";
import { closeLogging, type LogOutputs, setupLogging } from "../telemetry/log.ts";
import type { LineOutput } from "../telemetry/log_sink.ts";
import { Metrics } from "../telemetry/metrics.ts";
import { EXPOSITION_TYPE } from "../telemetry/control_metrics.ts";
import { setNoDelayReport, setPortProbes } from "../tls/server.ts";
import { ServerTable } from "../upstream/server_cells.ts";
import { Channel } from "./channel.ts";
import { type PreparedApply, Runtime } from "./runtime.ts";
import type {
  BoundPorts,
  ConfigChange,
  LogBatch,
  ServerLoad,
  StartMessage,
} from "./worker_protocol.ts";

const channel = new Channel(self);
self.onmessage = (e: MessageEvent) => channel.receive(e.data);

let runtime: Runtime | null = null;
let metrics: Metrics | null = null;
let table: ServerTable | null = null;
let connections: SharedConnectionCounts | null = null;
let certificates: Readonly<Record<string, readonly CertificateFile[]>> = {};
let prepared: PreparedApply | null = null;
let logging = false;

/** A stream of the process, reached through the main isolate. */
function mainOutput(stream: LogBatch["stream"]): LineOutput {
  return {
    write(bytes: Uint8Array): Promise<number> {
      const copy = bytes.slice();
      channel.notify("log", { stream, bytes: copy } satisfies LogBatch, [copy.buffer]);
      return Promise.resolve(bytes.length);
    },
  };
}

const outputs: LogOutputs = { app: mainOutput("app"), access: mainOutput("access") };

function cellFor(cells: ConfigChange["cells"]) {
  return (service: string, index: number) => {
    const slot = cells[service]?.[index];
    if (slot === undefined) {
      throw new Error(`Cannot find the health cell of server ${index} of service "${service}"`);
    }
    return table!.cell(slot);
  };
}

/** The bound port of each entrypoint of `config`. */
function ports(rt: Runtime, config: Config): BoundPorts {
  const bound: BoundPorts = {};
  for (const name of Object.keys(config.entrypoints)) {
    const port = rt.port(name);
    if (port !== undefined) bound[name] = port;
  }
  return bound;
}

const internal = new Map<string, InternalService>([
  ["metrics@internal", async () => {
    const headers = new HeaderList();
    headers.appendLower("content-type", EXPOSITION_TYPE);
    headers.appendLower("cache-control", "no-store");
    const text = await channel.call<string>("exposition");
    return { status: 200, headers, body: new TextEncoder().encode(text) };
  }],
]);

channel.on("start", async (msg: StartMessage) => {
  table = new ServerTable(msg.shared.servers);
  connections = new SharedConnectionCounts(msg.shared.connections);
  connections.use(msg.connectionSlots);
  certificates = msg.certificates;
  logging = msg.logging;
  if (logging) await setupLogging(msg.config.log, outputs);
  setPortProbes(msg.probe);
  setNoDelayReport(msg.index === 0);
  try {
    runtime = Runtime.start(
      msg.config,
      {
        onComplete: (outcome) => metrics?.observe(outcome),
        onTcpClosed: (record) => metrics?.observeTcp(record),
        onUdpClosed: (record) => metrics?.observeUdp(record),
        onRefused: (entrypoint, refusal) => metrics?.refused(entrypoint, refusal),
        onAcceptFailure: (entrypoint, failure) => metrics?.acceptFailed(entrypoint, failure.reason),
        internal,
        acme: {
          challenge: (token) => channel.call<string | null>("challenge", token),
          certificates: (entrypoint) => certificates[entrypoint] ?? [],
        },
      },
      {
        connections,
        activeChecks: false,
        sharedOnly: msg.index !== 0,
        autoConnections: msg.autoConnections,
        counters: new CounterStore(msg.shared.counters, msg.shared.counterCells),
      },
      { ports: msg.ports, cellFor: cellFor(msg.cells) },
    );
  } finally {
    // Later binds share ports this process already holds: a probe would always fail.
    setPortProbes(false);
  }
  const rt = runtime;
  metrics = new Metrics({
    config: () => rt.config,
    clientConnections: () => rt.clientConnections(),
    upstreamConnections: () => rt.upstreamConnections(),
    http2Counters: () => rt.http2Counters(),
    compression: compressionStats,
  });
  metrics.configure(msg.config);
  return ports(rt, msg.config);
});

channel.on("prepare", (msg: ConfigChange) => {
  prepared?.abort();
  prepared = null;
  connections!.use(msg.connectionSlots);
  prepared = runtime!.prepare(msg.config, { ports: msg.ports, cellFor: cellFor(msg.cells) });
  return ports(runtime!, msg.config);
});

channel.on("commit", async () => {
  const change = prepared;
  prepared = null;
  if (change === null) return;
  change.commit();
  metrics!.configure(change.snapshot.config);
  if (logging) await setupLogging(change.snapshot.config.log, outputs);
});

channel.on("abort", () => {
  prepared?.abort();
  prepared = null;
});

channel.on("certificates", (obtained: Record<string, readonly CertificateFile[]>) => {
  certificates = obtained;
  runtime?.refreshCertificates();
});

channel.on("ping", () => true);

channel.on("samples", () => metrics!.samples());

channel.on(
  "loads",
  (): ServerLoad[] =>
    [...runtime!.snapshot.services.values()].flatMap((s) =>
      s.servers.map((server) => {
        const { open, idle } = s.transport(server).connections();
        return { service: s.name, url: server.url, inflight: server.inflight, open, idle };
      })
    ),
);

channel.on("drain", async () => {
  await runtime?.shutdown();
  if (logging) await closeLogging();
  return true;
});

// Its modules are loaded: the main isolate's start bound runs from here.
channel.notify("loaded");
