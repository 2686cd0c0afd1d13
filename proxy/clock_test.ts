import assert from "node:assert/strict";
import { LIB_DIR } from "./testing/preflight.ts";
import { yaml } from "./testing/proxy.ts";
import { spawnProxy } from "./testing/process.ts";
import { httpUpstream, waitFor } from "./testing/servers.ts";
import { readResponse, WireReader, writeAll } from "./testing/wire.ts";

/** libfaketime (Debian's libfaketime): steps the wall clock of a process it is preloaded into. */
const FAKETIME = `${LIB_DIR}/faketime/libfaketime.so.1`;

/** Resolves with null when the peer closed `conn`, or with the bytes it sent. */
async function closedBy(conn: Deno.Conn): Promise<Uint8Array | null> {
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  return n === null ? null : buf.subarray(0, n);
}

Deno.test("a wall clock stepped back or forward moves no deadline", async () => {
  // The offset of Gatehouse's wall clock from the real one, read by libfaketime at every
  // reading; its monotonic clock is left alone.
  const offset = await Deno.makeTempFile();
  await Deno.writeTextFile(offset, "+0");
  const { promise: stepped, resolve: step } = Promise.withResolvers<void>();
  await using up = httpUpstream(async (req) => {
    if (new URL(req.url).pathname === "/slow") await stepped;
    return new Response("ok");
  });
  await using gw = await spawnProxy(
    (port) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:${port}" } }
      routes: [{ service: app }]
      services: { app: { servers: ["${up.url}"] } }
      timeouts: { keep_alive_idle: 1s, response_header: 10s }
      admin: { address: "off" }
    `,
    {
      LD_PRELOAD: FAKETIME,
      FAKETIME_TIMESTAMP_FILE: offset,
      FAKETIME_NO_CACHE: "1",
      DONT_FAKE_MONOTONIC: "1",
    },
  );
  try {
    // Stepped back an hour, an idle keep-alive connection still closes after keep_alive_idle.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
    try {
      await writeAll(idle, "GET / HTTP/1.1\r\nHost: app\r\n\r\n");
      assert.equal((await readResponse(new WireReader(idle))).status, 200);
      await Deno.writeTextFile(offset, "-3600s");
      const closed = closedBy(idle);
      const timeout = new Promise<"open">((r) => setTimeout(() => r("open"), 5_000));
      assert.equal(await Promise.race([closed, timeout]), null, "closed within 5 s");
    } finally {
      idle.close();
    }
    // Stepped forward two hours while a request waits on its upstream: its 10 s bound holds.
    const slow = fetch(`http://127.0.0.1:${gw.port}/slow`);
    await waitFor(() => up.requests.some((r) => r.target === "/slow"), "the slow request");
    await Deno.writeTextFile(offset, "+3600s");
    // Several of the connection registry's sweeps (every 100 ms) run on the stepped clock.
    await new Promise((r) => setTimeout(r, 500));
    step();
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
  } finally {
    step();
    await Deno.remove(offset);
  }
});

/**
 * The modules that may read the wall clock, each for a wall-clock time (clock.ts's rule); any
 * other reading of `Date.now()` in production code is a deadline, timeout or log throttle that a
 * stepped clock would move, and fails here.
 */
const WALL_CLOCK_READERS: Record<string, string> = {
  "acme/client.ts": "ACME polling against a CA's wall-clock Retry-After dates",
  "acme/manager.ts": "renewal times are certificate dates",
  "app/status.ts": "/status shows an ejection's end as a date",
  "clock.ts": "documents the rule",
  "listen/h2_events.ts": "per-second event log in wall-clock seconds",
  "telemetry/control_metrics.ts": "reload and start times as unix seconds",
  "telemetry/log.ts": "log timestamps",
};

Deno.test("only wall-clock times read Date.now(); deadlines use monotonicNow()", async () => {
  const root = new URL("./", import.meta.url).pathname;
  const readers: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(root + dir)) {
      const path = dir + e.name;
      if (e.isDirectory) {
        if (e.name !== "testing") await walk(path + "/");
      } else if (
        path.endsWith(".ts") && !path.endsWith("_test.ts") && !path.endsWith("_bench.ts") &&
        (await Deno.readTextFile(root + path)).includes("Date.now()")
      ) readers.push(path);
    }
  };
  await walk("");
  assert.deepEqual(readers.sort(), Object.keys(WALL_CLOCK_READERS).sort());
});
