import assert from "node:assert/strict";
import { yaml } from "../testing/proxy.ts";
import { spawnProxy } from "../testing/process.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { readResponse, WireReader, writeAll } from "../testing/wire.ts";
import { captureLog, logText } from "../testing/logs.ts";
import { AcceptFailures } from "./open_files.ts";

/**
 * Gatehouse in front of `upstream` (checked every CHECK_MS, down after one failed check), its
 * admin endpoint on `admin`, under `openFiles`.
 */
function proxyUnder(upstream: string, admin: number, openFiles: { soft: number; hard: number }) {
  return spawnProxy(
    (port) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:${port}" } }
      routes: [{ service: app }]
      services:
        app:
          servers: ["${upstream}"]
          health_check: { path: /, interval: ${CHECK_MS}ms, timeout: ${CHECK_TIMEOUT_MS}ms, unhealthy_threshold: 1 }
      timeouts: { header_read: 60s }
      admin: { address: "127.0.0.1:${admin}" }
    `,
    {},
    ["-A"],
    { openFiles },
  );
}

const CHECK_MS = 300;
const CHECK_TIMEOUT_MS = CHECK_MS - 50;

/** The soft and hard "Max open files" of process `pid`. */
async function limitsOf(pid: number): Promise<[string, string]> {
  const line = (await Deno.readTextFile(`/proc/${pid}/limits`)).split("\n")
    .find((l) => l.startsWith("Max open files"))!;
  const [soft, hard] = line.slice("Max open files".length).trim().split(/\s+/);
  return [soft, hard];
}

async function metric(admin: number, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(" ") + 1));
}

// Gatehouse relies on Deno raising the soft limit to the hard one (its cli/util/unix.rs): this
// fails loudly when an upgrade stops doing it.
Deno.test("open files: Deno runs Gatehouse at the hard limit, and both counts are metrics", async () => {
  await using up = httpUpstream();
  const admin = closedPort();
  await using gw = await proxyUnder(up.url, admin, { soft: 256, hard: 4096 });
  assert.deepEqual(await limitsOf(gw.child.pid), ["4096", "4096"]);
  assert.equal(await metric(admin, "process_max_fds"), 4096);
  assert.ok((await metric(admin, "process_open_fds"))! > 3);
  assert.doesNotMatch(gw.stderr(), /The open-file limit is/, "4096 is enough: no warning");
});

Deno.test("open files: out of descriptors Gatehouse waits, answers 503, blames no server, and serves again", async () => {
  await using up = httpUpstream();
  const admin = closedPort();
  // By name, as in a compose file: out of descriptors, the lookup fails too ("Name or service
  // not known"), and that must not count against the server either.
  const byName = `http://localhost:${up.port}`;
  await using gw = await proxyUnder(byName, admin, { soft: 64, hard: 64 });
  assert.match(gw.stderr(), /The open-file limit is 64 \(hard limit 64\)/);
  const held: Deno.Conn[] = [];
  const before = gw.stderr().length;
  // A scraper's kept-alive connection, accepted before the descriptors run out.
  const scraper = await Deno.connect({ hostname: "127.0.0.1", port: admin });
  const scraped = new WireReader(scraper);
  const scrape = async () => {
    await writeAll(scraper, "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n");
    return (await readResponse(scraped)).text;
  };
  try {
    assert.doesNotMatch(await scrape(), /^process_open_fds 64$/m);
    // Idle connections until the accepts fail: then every descriptor is taken.
    for (let i = 0; i < 80; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: gw.port }));
    }
    await waitFor(
      () => /Cannot accept connections on web: Too many open files/.test(gw.stderr()),
      "a failed accept logged",
      10_000,
    );
    // Metrics still answer on a kept-alive connection, and say every descriptor is in use.
    assert.match(await scrape(), /^process_open_fds 64$/m);
    // The admin endpoint, out of descriptors too, must not take the process down (Deno.serve
    // did): its client waits and is answered once descriptors free up.
    const probe = await Deno.connect({ hostname: "127.0.0.1", port: admin });
    held.push(probe);
    await writeAll(probe, "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n");
    // Requests on accepted connections cannot reach the upstream: 503, the server not at fault.
    const answers = held.slice(0, -1).map(async (conn) => {
      await writeAll(conn, "GET / HTTP/1.1\r\nHost: app\r\n\r\n");
      return (await readResponse(new WireReader(conn))).status;
    });
    await waitFor(
      () => /Gatehouse's open-file limit is reached/.test(gw.stdout()),
      "a 503",
      10_000,
    );
    // Out of descriptors for three check intervals: the checks that fell in them changed nothing.
    await new Promise((r) => setTimeout(r, 3 * CHECK_MS));
    for (const conn of held.splice(0, held.length - 1)) conn.close();
    const statuses = await Promise.allSettled(answers);
    assert.ok(statuses.some((s) => s.status === "fulfilled" && s.value === 503));
    const metrics = await readResponse(new WireReader(probe));
    assert.equal(metrics.status, 200, "the admin endpoint answers once descriptors are back");
    assert.match(
      metrics.text,
      /gatehouse_accept_failures_total\{entrypoint="web",reason="open_files"\} [1-9]/,
    );
  } finally {
    for (const conn of held) conn.close();
    scraper.close();
  }
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${gw.port}/`);
      await res.body?.cancel();
      return res.status === 200;
    },
    "a request served again",
    10_000,
  );
  const during = gw.stderr().slice(before);
  assert.doesNotMatch(during, /ejected/, "a local failure ejects no server");
  assert.doesNotMatch(during, /is down/, "nor fails its health check");
});

Deno.test("open files: failed accepts are all counted, and logged at most once an interval per entrypoint", async () => {
  await using log = await captureLog("open_files");
  const counted: string[] = [];
  const failures = new AcceptFailures((entrypoint) => counted.push(entrypoint), 200);
  const failure = { reason: "other", message: "boom" } as const;
  const started = performance.now();
  for (let i = 0; i < 3; i++) failures.report("web", failure);
  failures.report("websecure", failure);
  await waitFor(() => performance.now() - started > 250, "the interval to pass");
  failures.report("web", failure);
  assert.deepEqual(counted, ["web", "web", "web", "websecure", "web"]);
  assert.deepEqual(log.records.map(logText), [
    "Cannot accept connections on web: boom",
    "Cannot accept connections on websecure: boom",
    "Cannot accept connections on web: boom (3 accepts failed since the last line)",
  ]);
});
