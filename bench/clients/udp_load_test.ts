/**
 * The UDP load generator against the bench's UDP echo upstream, both as the bench starts them
 * (real datagram sockets on loopback): round trips are counted, and echoes that are not the
 * datagram sent make the run fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { benchJson } from "../lib/parse.ts";
import { ROOT } from "../lib/layout.ts";
import { denoClient } from "../scenarios/types.ts";

/** A free UDP port on 127.0.0.1. */
function freeUdpPort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const { port } = socket.addr as Deno.NetAddr;
  socket.close();
  return port;
}

interface UdpResult {
  operations: number;
  errors: number;
  first_error?: string;
  p99_ms: number;
}

/** Runs udp_load.ts for half a second against `port`, with datagrams of `size` bytes. */
async function run(port: number, size: number): Promise<Deno.CommandOutput> {
  const argv = denoClient("udp_load.ts", { port, size, clients: 4, seconds: 0.5, warmup: 0 });
  return await new Deno.Command(argv[0], { args: argv.slice(1), cwd: ROOT }).output();
}

async function load(port: number, size: number): Promise<UdpResult> {
  const out = await run(port, size);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return benchJson<UdpResult>(new TextDecoder().decode(out.stdout), "udp_load.ts");
}

Deno.test("udp_load.ts counts echoed round trips through udp_echo.ts", async () => {
  const port = freeUdpPort();
  const echo = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      join(ROOT, "bench/servers/udp_echo.ts"),
      `${port}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (const size of [64, 1200]) {
      const r = await load(port, size);
      assert.equal(r.errors, 0, r.first_error);
      assert.ok(r.operations > 0, `no round trip of ${size} bytes`);
    }
  } finally {
    echo.kill();
    await echo.status;
  }
});

Deno.test("udp_load.ts fails on echoes that are not the datagram sent", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const { port } = socket.addr as Deno.NetAddr;
  // Sends back the first 8 bytes only, until the socket closes.
  const serving = (async () => {
    for (;;) {
      const [data, from] = await socket.receive();
      await socket.send(data.subarray(0, 8), from);
    }
  })().catch(() => {});
  try {
    // Every round trip fails at once: past 1000 errors the client stops (common.ts timedPhase).
    const out = await run(port, 64);
    assert.notEqual(out.code, 0);
    assert.match(new TextDecoder().decode(out.stderr), /echo of 8 bytes, sent 64/);
  } finally {
    socket.close();
    await serving;
  }
});
