/**
 * Edge cases of the engine's server side, driven by python3-h2 (proxy/testing/h2_peer.py):
 * request and response trailers, a client reset in the middle of a large response followed by
 * another request on the same connection, extended CONNECT (RFC 8441) as a byte stream with
 * half-close, and malformed requests reset with PROTOCOL_ERROR while the connection goes on.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "./errors.ts";
import { h2TestServer } from "../../testing/h2_server.ts";
import { SYSTEM_PYTHON } from "../../testing/prometheus.ts";

const PEER = new URL("../../testing/h2_peer.py", import.meta.url).pathname;

async function peer(
  scenario: string,
  port: number,
  caPem: string | null,
): Promise<Record<string, unknown>> {
  const args = [PEER, scenario, "127.0.0.1", String(port)];
  let ca: string | null = null;
  if (caPem !== null) {
    ca = await Deno.makeTempFile({ suffix: ".pem" });
    await Deno.writeTextFile(ca, caPem);
    args.push("--tls", ca);
  }
  try {
    const out = await new Deno.Command(SYSTEM_PYTHON, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `h2_peer.py ${scenario} failed:\n${err}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    if (ca !== null) await Deno.remove(ca);
  }
}

for (const tls of [false, true]) {
  const over = tls ? "TLS" : "h2c";

  Deno.test(`python3-h2 over ${over}: request trailers reach the handler, response trailers the client`, async () => {
    await using server = await h2TestServer({ tls });
    const seen = await peer("trailers", server.port, tls ? server.caPem : null);
    assert.deepEqual(seen, {
      status: 200,
      body: "hello trailers",
      trailers: { "x-check": "1", "grpc-status": "0" },
    });
  });

  Deno.test(`python3-h2 over ${over}: a reset mid-response stops it; the connection serves on`, async () => {
    await using server = await h2TestServer({ tls });
    const seen = await peer("reset", server.port, tls ? server.caPem : null);
    // The client reset after its first DATA: far less than the 50 MB body was sent.
    assert.ok((seen.received_before_reset as number) < 1024 * 1024, JSON.stringify(seen));
    assert.equal(seen.second_status, 200);
    assert.equal(seen.second_body, "hello from gatehouse h2\n");
    assert.equal(server.stats.rapidReset, 0);
  });

  Deno.test(`python3-h2 over ${over}: extended CONNECT is a byte stream with half-close`, async () => {
    await using server = await h2TestServer({ tls, engine: { enableConnectProtocol: true } });
    const seen = await peer("connect", server.port, tls ? server.caPem : null);
    assert.deepEqual(seen, {
      enable_connect_protocol: 1,
      status: 200,
      first: "ping one",
      all: "ping oneping two",
      ended: true,
      reset: null,
    });
  });

  Deno.test(`python3-h2 over ${over}: malformed requests are reset, the next one is served`, async () => {
    await using server = await h2TestServer({ tls });
    const seen = await peer("malformed", server.port, tls ? server.caPem : null);
    assert.deepEqual(seen, {
      upper_reset: ErrorCode.PROTOCOL_ERROR,
      connection_reset: ErrorCode.PROTOCOL_ERROR,
      good_status: 200,
    });
    assert.equal(server.stats.malformedMessages, 2);
    const messages = server.events.map((e) => e.message).join("\n");
    assert.match(messages, /invalid field name "x-upper"|invalid field name "X-Upper"/);
    assert.match(messages, /connection-specific field "connection"/);
  });
}

Deno.test("without enableConnectProtocol, a :protocol request is malformed", async () => {
  await using server = await h2TestServer({ tls: false });
  const seen = await peer("connect", server.port, null);
  assert.equal(seen.enable_connect_protocol, 0);
  assert.equal(seen.reset, ErrorCode.PROTOCOL_ERROR);
});
