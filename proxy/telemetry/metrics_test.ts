import assert from "node:assert/strict";
import { startGatehouse } from "../testing/gatehouse.ts";
import { parseExposition, type Sample, sampleValue, seriesKeys } from "../testing/prometheus.ts";
import { yaml } from "../testing/proxy.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { grpcCall } from "../testing/grpc.ts";
import {
  readBytes,
  readToEnd,
  tcpUpstream,
  text,
  writeAll as tcpWrite,
} from "../testing/tcp_peers.ts";
import { DURATION_BUCKETS, HTTP2_KINDS } from "./metrics.ts";
import { createH2Stats } from "../proto/h2/guard.ts";
import { FrameType } from "../proto/h2/frames.ts";
import { rawH2Client } from "../testing/h2_frame_peer.ts";

function config(upstream: string, extra = ""): string {
  return yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      other: { address: "127.0.0.1:0" }
    routes:
      - name: app
        match: { host: app.test }
        service: app
      - name: metrics
        match: { host: metrics.test }
        service: metrics@internal
    services:
      app: { servers: [${upstream}] }
      idle: { servers: ["http://127.0.0.1:${closedPort()}"] }
    admin: { address: "127.0.0.1:0" }
  ` + extra;
}

async function scrape(url: string, init?: RequestInit): Promise<Sample[]> {
  const res = await fetch(url, init);
  assert.equal(res.status, 200);
  return await parseExposition(await res.text());
}

/** Sends Host as given (fetch replaces it otherwise). */
function hostFetch(url: string, init: RequestInit & { host: string }): Promise<Response> {
  const client = Deno.createHttpClient({ allowHost: true });
  return fetch(url, { ...init, headers: { host: init.host }, client }).finally(() =>
    client.close()
  );
}

async function get(port: number, path: string, host = "app.test"): Promise<void> {
  const res = await hostFetch(`http://127.0.0.1:${port}${path}`, { host });
  await res.body?.cancel();
}

Deno.test("gauges exist at 0 from start-up for every entrypoint, service and server", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  const samples = await scrape(gh.admin("/metrics"));
  for (const entrypoint of ["web", "other"]) {
    assert.equal(sampleValue(samples, "gatehouse_entrypoint_open_connections", { entrypoint }), 0);
    assert.equal(
      sampleValue(samples, "gatehouse_open_connections", { entrypoint, protocol: "websocket" }),
      0,
    );
  }
  for (const service of ["app", "idle"]) {
    assert.equal(sampleValue(samples, "gatehouse_service_open_connections", { service }), 0);
  }
  assert.equal(
    sampleValue(samples, "gatehouse_service_server_up", { service: "app", url: up.url }),
    1,
  );
  assert.equal(sampleValue(samples, "gatehouse_config_last_reload_success"), 1);
  assert.ok((sampleValue(samples, "process_resident_memory_bytes") ?? 0) > 0);
});

Deno.test("counters rise by exactly N after N requests, at every level", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  const port = gh.port("web");
  await get(port, "/warm-up");
  const before = await scrape(gh.admin("/metrics"));
  const N = 37;
  for (let i = 0; i < N; i++) await get(port, `/n/${i}`);
  const after = await scrape(gh.admin("/metrics"));
  const labels = { code: "200", method: "GET", protocol: "http" };
  const delta = (name: string, extra: Record<string, string>) =>
    sampleValue(after, name, { ...labels, ...extra })! -
    (sampleValue(before, name, { ...labels, ...extra }) ?? 0);
  assert.equal(delta("gatehouse_entrypoint_requests_total", { entrypoint: "web" }), N);
  assert.equal(delta("gatehouse_router_requests_total", { router: "app", service: "app" }), N);
  assert.equal(delta("gatehouse_service_requests_total", { service: "app" }), N);
  assert.equal(
    delta("gatehouse_entrypoint_request_duration_seconds_count", { entrypoint: "web" }),
    N,
  );
  assert.equal(delta("gatehouse_entrypoint_responses_bytes_total", { entrypoint: "web" }), N * 2);
});

Deno.test("1000 requests to 1000 distinct paths add no series", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  const port = gh.port("web");
  for (let i = 0; i < 5; i++) await get(port, "/same");
  const before = seriesKeys(await scrape(gh.admin("/metrics")));
  for (let i = 0; i < 1000; i++) await get(port, `/distinct/${crypto.randomUUID()}?q=${i}`);
  const after = seriesKeys(await scrape(gh.admin("/metrics")));
  assert.deepEqual([...after].filter((k) => !before.has(k)), []);
  // No path, query or request id (UUID) ended up in a label.
  for (const key of after) assert.doesNotMatch(key, /distinct|q=|[0-9a-f]{8}-[0-9a-f]{4}-/);
});

Deno.test("duration histograms carry the 0.1, 0.3, 1.2 and 5 second buckets", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  await get(gh.port("web"), "/");
  const samples = await scrape(gh.admin("/metrics"));
  const les = samples
    .filter((s) => s.name === "gatehouse_entrypoint_request_duration_seconds_bucket")
    .map((s) => s.labels.le);
  for (const le of ["0.1", "0.3", "1.2", "5"]) assert.ok(les.includes(le), `le=${le}`);
  assert.ok(DURATION_BUCKETS.length >= 4);
});

Deno.test("unusual methods collapse to EXTENSION_METHOD; per-host labels are opt-in", async () => {
  await using up = httpUpstream();
  const extra = yaml`
    metrics: { per_host: true }
  `;
  await using gh = await startGatehouse(config(up.url, extra), false);
  const port = gh.port("web");
  const res = await hostFetch(`http://127.0.0.1:${port}/`, { method: "BREW", host: "app.test" });
  await res.body?.cancel();
  await get(port, "/", "unknown.example");
  const samples = await scrape(gh.admin("/metrics"));
  assert.equal(
    sampleValue(samples, "gatehouse_entrypoint_requests_total", { method: "EXTENSION_METHOD" }),
    1,
  );
  assert.equal(sampleValue(samples, "gatehouse_host_requests_total", { host: "app.test" }), 1);
  assert.equal(sampleValue(samples, "gatehouse_host_requests_total", { host: "other" }), 1);
});

Deno.test("metrics@internal serves the same exposition on a public route", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  const res = await hostFetch(`http://127.0.0.1:${gh.port("web")}/metrics`, {
    host: "metrics.test",
  });
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const samples = await parseExposition(await res.text());
  assert.ok(
    sampleValue(samples, "gatehouse_entrypoint_open_connections", { entrypoint: "web" }) !==
      undefined,
  );
});

Deno.test("an admin token protects /metrics, /status and /reload but not the probes", async () => {
  await using up = httpUpstream();
  Deno.env.set("GH_TEST_ADMIN_TOKEN", "s3cret");
  try {
    const text = config(up.url).replace(
      `admin: { address: "127.0.0.1:0" }`,
      `admin: { address: "127.0.0.1:0", token_env: GH_TEST_ADMIN_TOKEN }`,
    );
    await using gh = await startGatehouse(text, false);
    for (const path of ["/metrics", "/status"]) {
      const denied = await fetch(gh.admin(path));
      await denied.body?.cancel();
      assert.equal(denied.status, 401, path);
    }
    const wrong = await fetch(gh.admin("/status"), { headers: { authorization: "Bearer nope" } });
    await wrong.body?.cancel();
    assert.equal(wrong.status, 401);
    const samples = await scrape(gh.admin("/metrics"), {
      headers: { authorization: "Bearer s3cret" },
    });
    const refused = (reason: string) =>
      sampleValue(samples, "gatehouse_admin_requests_refused_total", { reason });
    assert.equal(refused("unauthorized"), 3, "counted");
    assert.equal(refused("malformed"), 0, "at 0 from start-up");
    assert.equal(refused("token_unavailable"), 0);
    for (const path of ["/healthz", "/readyz"]) {
      const res = await fetch(gh.admin(path));
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
    }
  } finally {
    Deno.env.delete("GH_TEST_ADMIN_TOKEN");
  }
});

Deno.test("metrics.enabled false counts nothing but keeps the gauges", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url, "metrics: { enabled: false }\n"), false);
  await get(gh.port("web"), "/");
  const samples = await scrape(gh.admin("/metrics"));
  assert.equal(samples.filter((s) => s.name === "gatehouse_entrypoint_requests_total").length, 0);
  assert.equal(
    sampleValue(samples, "gatehouse_entrypoint_open_connections", { entrypoint: "web" }),
    0,
  );
});

Deno.test("a configured admin token that is not set refuses, never opens, the admin API", async () => {
  await using up = httpUpstream();
  const text = config(up.url).replace(
    `admin: { address: "127.0.0.1:0" }`,
    `admin: { address: "127.0.0.1:0", token_env: GH_TEST_SURELY_UNSET_TOKEN }`,
  );
  await using gh = await startGatehouse(text, false);
  const res = await fetch(gh.admin("/metrics"));
  assert.equal(res.status, 503);
  assert.match(await res.text(), /GH_TEST_SURELY_UNSET_TOKEN, which is not set/);
  const probe = await fetch(gh.admin("/healthz"));
  await probe.body?.cancel();
  assert.equal(probe.status, 200);
});

Deno.test("TCP connections and bytes are counted; open streams show as protocol tcp", async () => {
  await using echo = tcpUpstream();
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        pg: { address: "127.0.0.1:0", protocol: tcp }
      tcp_routes:
        - { name: pg, entrypoints: [pg], service: pg }
      services:
        pg: { servers: [${echo.url}] }
      admin: { address: "127.0.0.1:0" }
    `,
    false,
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gh.port("pg") });
  await tcpWrite(conn, "ping!");
  assert.equal(text(await readBytes(conn, 5)), "ping!");
  const open = await scrape(gh.admin("/metrics"));
  assert.equal(
    sampleValue(open, "gatehouse_open_connections", { entrypoint: "pg", protocol: "tcp" }),
    1,
  );
  await conn.closeWrite();
  await readToEnd(conn);
  conn.close();
  await waitFor(async () => {
    const s = await scrape(gh.admin("/metrics"));
    return sampleValue(s, "gatehouse_tcp_connections_total", {
      router: "pg",
      outcome: "closed",
    }) === 1;
  }, "the TCP connection to be counted");
  const samples = await scrape(gh.admin("/metrics"));
  assert.equal(
    sampleValue(samples, "gatehouse_tcp_bytes_total", { router: "pg", direction: "up" }),
    5,
  );
  assert.equal(
    sampleValue(samples, "gatehouse_tcp_bytes_total", { router: "pg", direction: "down" }),
    5,
  );
});

Deno.test("UDP sessions, datagrams and bytes are counted; open sessions show as protocol udp", async () => {
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  (async () => {
    for await (const [data, from] of echo) await echo.send(data, from);
  })().catch(() => {});
  const echoPort = (echo.addr as Deno.NetAddr).port;
  try {
    await using gh = await startGatehouse(
      yaml`
        entrypoints:
          dns: { address: "127.0.0.1:0", protocol: udp }
        udp_routes:
          - { entrypoints: [dns], service: dns, timeouts: { idle: 200ms } }
        services:
          dns: { servers: ["udp://127.0.0.1:${echoPort}"] }
        admin: { address: "127.0.0.1:0" }
      `,
      false,
    );
    const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: gh.port("dns") };
    await client.send(new TextEncoder().encode("ping!"), to);
    await client.receive();
    const open = await scrape(gh.admin("/metrics"));
    assert.equal(
      sampleValue(open, "gatehouse_open_connections", { entrypoint: "dns", protocol: "udp" }),
      1,
    );
    client.close();
    await waitFor(async () => {
      const s = await scrape(gh.admin("/metrics"));
      return sampleValue(s, "gatehouse_udp_sessions_total", { service: "dns", outcome: "idle" }) ===
        1;
    }, "the UDP session to be counted");
    const samples = await scrape(gh.admin("/metrics"));
    for (const direction of ["up", "down"]) {
      const labels = { entrypoint: "dns", service: "dns", direction };
      assert.equal(sampleValue(samples, "gatehouse_udp_datagrams_total", labels), 1);
      assert.equal(sampleValue(samples, "gatehouse_udp_bytes_total", labels), 5);
    }
  } finally {
    echo.close();
  }
});

Deno.test("failed requests are counted by whose failure it was", async () => {
  await using gh = await startGatehouse(config(`"http://127.0.0.1:${closedPort()}"`), false);
  const port = gh.port("web");
  await get(port, "/", "nothing.test");
  await get(port, "/");
  await get(port, "/");
  const samples = await scrape(gh.admin("/metrics"));
  const failures = (source: string) =>
    sampleValue(samples, "gatehouse_request_failures_total", { entrypoint: "web", source });
  assert.equal(failures("client"), 1);
  assert.equal(failures("upstream"), 2);
});

Deno.test("gRPC calls are counted by grpc-status, Gatehouse's own answers included", async () => {
  await using gh = await startGatehouse(config(`"http://127.0.0.1:${closedPort()}"`), false);
  // No route for 127.0.0.1: a trailers-only UNIMPLEMENTED (12).
  const res = await grpcCall(`127.0.0.1:${gh.port("web")}`, "unary");
  assert.equal(res.code, "UNIMPLEMENTED");
  const samples = await scrape(gh.admin("/metrics"));
  const labels = { entrypoint: "web", service: "", grpc_status: "12" };
  assert.equal(sampleValue(samples, "gatehouse_grpc_responses_total", labels), 1);
});

Deno.test("HTTP/2 defences: every engine counter has a kind, at 0 from start-up, counted when hit", async () => {
  assert.deepEqual(Object.keys(HTTP2_KINDS).sort(), Object.keys(createH2Stats()).sort());
  await using up = httpUpstream();
  await using gh = await startGatehouse(config(up.url), false);
  let samples = await scrape(gh.admin("/metrics"));
  for (const entrypoint of ["web", "other"]) {
    for (const kind of Object.values(HTTP2_KINDS)) {
      assert.equal(sampleValue(samples, "gatehouse_http2_defences_total", { entrypoint, kind }), 0);
    }
  }
  // An uppercase field name over h2c: malformed, the stream is reset and counted.
  await using peer = await rawH2Client(gh.port("web"));
  const id = await peer.request("GET", "/", false, [["X-Upper", "1"]]);
  await peer.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
  samples = await scrape(gh.admin("/metrics"));
  const count = (kind: string) =>
    sampleValue(samples, "gatehouse_http2_defences_total", { entrypoint: "web", kind });
  assert.equal(count("malformed_message"), 1);
  assert.equal(count("stream_error"), 1);
  assert.equal(count("rapid_reset"), 0);
});
