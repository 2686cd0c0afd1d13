/**
 * gRPC through Gatehouse with python3-grpcio on both sides (client and server Gatehouse did not
 * write): unary with trailing metadata, an error status with binary details, server, client and
 * bidirectional streaming, 8 MiB messages both ways, 200 concurrent calls on one connection, a
 * client deadline that reaches the server as a cancel, a `grpc-timeout` Gatehouse enforces
 * itself (nghttp as the client, which has no deadline); over an h2c entrypoint and a TLS (ALPN
 * h2) one, to an h2c:// server. Calls Gatehouse itself fails get trailers-only answers with the
 * matching status (UNAVAILABLE when the server is down, UNIMPLEMENTED with no route), recorded
 * in the access log and gatehouse_grpc_responses_total.
 */
import assert from "node:assert/strict";
import { startProxy, type TestProxy, yaml } from "../testing/proxy.ts";
import { closedPort, waitFor } from "../testing/servers.ts";
import { grpcCall, grpcServer } from "../testing/grpc.ts";
import { runTool } from "../testing/h2_tools.ts";
import { writeTestCerts } from "../testing/certs.ts";

async function gatewayTo(server: string): Promise<TestProxy> {
  return await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ match: { path: /test.Echo }, service: grpc }]
    services: { grpc: { servers: ["${server}"] } }
  `);
}

Deno.test("grpcio through Gatehouse: unary, errors with details, streaming each way, over h2c and TLS", async () => {
  await using server = await grpcServer();
  await using gw = await gatewayTo(`h2c://127.0.0.1:${server.port}`);
  const targets: [string, string | undefined][] = [
    [`127.0.0.1:${gw.port("web")}`, undefined],
    [`127.0.0.1:${gw.port("websecure")}`, gw.certs.caCertPath],
  ];
  for (const [target, ca] of targets) {
    const unary = await grpcCall(target, "unary", ca);
    assert.deepEqual([unary.code, unary.replies, unary.trailers], [
      "OK",
      ["echo:hello"],
      { "x-trailer": "yes" },
    ]);
    const fail = await grpcCall(target, "fail", ca);
    assert.deepEqual([fail.code, fail.details], ["INVALID_ARGUMENT", "bad input"]);
    assert.equal(
      fail.details_bin,
      Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0")).join(""),
    );
    assert.deepEqual((await grpcCall(target, "server_stream", ca)).replies, [
      "tick",
      "tick",
      "tick",
    ]);
    assert.deepEqual((await grpcCall(target, "client_stream", ca)).replies, ["a+b+c"]);
    assert.deepEqual((await grpcCall(target, "bidi", ca)).replies, ["re:1", "re:2", "re:3"]);
  }
  const records = gw.outcomes.filter((o) => o.kind === "grpc");
  assert.equal(records.length, 10);
  assert.deepEqual(records.map((r) => r.grpcStatus), [
    "0",
    "3",
    "0",
    "0",
    "0",
    "0",
    "3",
    "0",
    "0",
    "0",
  ]);
});

Deno.test("grpcio through Gatehouse to a TLS grpcio server (protocol h2, ALPN h2)", async () => {
  const dir = await Deno.makeTempDir();
  const certs = await writeTestCerts(dir);
  await using server = await grpcServer(certs.leaves.localhost);
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: grpc }]
    services:
      grpc:
        servers: ["https://127.0.0.1:${server.port}"]
        protocol: h2
        tls: { ca_file: ca.crt, server_name: localhost }
        health_check: { grpc: test.Echo, interval: 1s, timeout: 500ms }
  `);
  for (
    const [target, ca] of [
      [`127.0.0.1:${gw.port("web")}`, undefined],
      [`127.0.0.1:${gw.port("websecure")}`, gw.certs.caCertPath],
    ] as const
  ) {
    const unary = await grpcCall(target, "unary", ca);
    assert.deepEqual([unary.code, unary.replies, unary.trailers], [
      "OK",
      ["echo:hello"],
      { "x-trailer": "yes" },
    ]);
    assert.deepEqual((await grpcCall(target, "bidi", ca)).replies, ["re:1", "re:2", "re:3"]);
    const fail = await grpcCall(target, "fail", ca);
    assert.deepEqual([fail.code, fail.details], ["INVALID_ARGUMENT", "bad input"]);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("grpcio through Gatehouse: 8 MiB messages and 200 concurrent calls on one connection", async () => {
  await using server = await grpcServer();
  await using gw = await gatewayTo(`h2c://127.0.0.1:${server.port}`);
  const target = `127.0.0.1:${gw.port("web")}`;
  const big = await grpcCall(target, "big");
  assert.deepEqual([big.code, big.replies], ["OK", [8 << 20, (8 << 20) + 5]]);
  const many = await grpcCall(
    `127.0.0.1:${gw.port("websecure")}`,
    "concurrent",
    gw.certs.caCertPath,
  );
  assert.deepEqual([many.code, many.replies], ["OK", [200]]);
});

Deno.test("a client deadline cancels the call at the server through Gatehouse", async () => {
  await using server = await grpcServer();
  await using gw = await gatewayTo(`h2c://127.0.0.1:${server.port}`);
  const res = await grpcCall(`127.0.0.1:${gw.port("web")}`, "deadline");
  assert.equal(res.code, "DEADLINE_EXCEEDED");
  await waitFor(() => server.lines.includes("cancelled Slow"), "the server to see the cancel");
});

Deno.test("grpc-timeout is a deadline on the upstream exchange: DEADLINE_EXCEEDED, the server sees the cancel", async () => {
  await using server = await grpcServer();
  await using gw = await gatewayTo(`h2c://127.0.0.1:${server.port}`);
  const body = await Deno.makeTempFile();
  await Deno.writeFile(body, new Uint8Array(5)); // one empty gRPC message
  // nghttp keeps no deadline of its own: only Gatehouse can end this call.
  const out = await runTool("nghttp", [
    "-v",
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    "-H",
    "grpc-timeout: 300m",
    "-d",
    body,
    `http://127.0.0.1:${gw.port("web")}/test.Echo/Slow`,
  ]);
  await Deno.remove(body);
  assert.match(out.stdout, /grpc-status: 4\n/);
  assert.match(out.stdout, /grpc-message: 504 Gateway Timeout/);
  await waitFor(() => server.lines.includes("cancelled Slow"), "the server to see the cancel");
  assert.equal(gw.outcomes.at(-1)?.grpcStatus, "4");
});

Deno.test("calls Gatehouse fails itself get trailers-only answers with the gRPC status", async () => {
  await using gw = await gatewayTo(`h2c://127.0.0.1:${closedPort()}`);
  const down = await grpcCall(`127.0.0.1:${gw.port("web")}`, "unary");
  assert.equal(down.code, "UNAVAILABLE");
  assert.match(down.details ?? "", /^502 Bad Gateway: the upstream server could not be reached/);
  assert.equal(gw.outcomes.at(-1)?.grpcStatus, "14");
});
