import assert from "node:assert/strict";
import { join } from "node:path";
import { tlsClient, yaml } from "./testing/proxy.ts";
import { accepts, spawnProxy } from "./testing/process.ts";
import { httpUpstream, waitFor } from "./testing/servers.ts";
import { readResponse, WireReader, writeAll } from "./testing/wire.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** A Gatehouse process with one TLS entrypoint in front of `upstream`. */
function tlsProxy(upstream: string, drain: string, workers: number) {
  return spawnProxy((port) =>
    yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:${port}"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app }]
    services: { app: { servers: ["${upstream}"] } }
    timeouts: { drain: ${drain} }
    admin: { address: "off" }
    workers: ${workers}
  `
  );
}

// The drain tests run with the data path in this isolate and in two worker isolates.
for (const workers of [1, 2]) {
  Deno.test(`SIGTERM: the request in flight completes, new connections are refused, exit 0 (workers: ${workers})`, async () => {
    await using up = httpUpstream(async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return new Response("finished");
    });
    await using gw = await spawnProxy((port) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:${port}" } }
      routes: [{ service: app }]
      services: { app: { servers: ["${up.url}"] } }
      timeouts: { drain: 5s }
      admin: { address: "off" }
      workers: ${workers}
    `
    );
    let answered = false;
    const inflight = fetch(`http://127.0.0.1:${gw.port}/slow`).then(async (res) => {
      const body = { status: res.status, text: await res.text() };
      answered = true;
      return body;
    });
    await waitFor(() => up.requests.length === 1, "the upstream request", 10_000);
    const signalled = performance.now();
    gw.child.kill("SIGTERM");
    await waitFor(async () => !(await accepts(gw.port)), "new connections to be refused");
    assert.equal(answered, false, "the slow request ended before the listener closed");
    assert.deepEqual(await inflight, { status: 200, text: "finished" });
    const status = await gw.close();
    const took = performance.now() - signalled;
    assert.equal(status.code, 0, gw.stderr());
    assert.ok(took < 5000, `exit ${took} ms after SIGTERM`);
  });

  Deno.test(`SIGTERM: an HTTP/2 request in flight completes before the exit (workers: ${workers})`, async () => {
    await using up = httpUpstream(async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return new Response("finished");
    });
    await using gw = await tlsProxy(up.url, "5s", workers);
    using client = await tlsClient("2");
    const inflight = fetch(`https://localhost:${gw.port}/slow`, { client }).then(async (res) => {
      return { status: res.status, text: await res.text() };
    });
    await waitFor(() => up.requests.length === 1, "the upstream request", 10_000);
    gw.child.kill("SIGTERM");
    assert.deepEqual(await inflight, { status: 200, text: "finished" });
    assert.equal((await gw.close()).code, 0, gw.stderr());
  });

  Deno.test(`SIGTERM: an HTTP/2 request still running at the drain deadline gets 503, then exit 0 (workers: ${workers})`, async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => release = resolve);
    await using up = httpUpstream(async () => {
      await held;
      return new Response("too late");
    });
    await using gw = await tlsProxy(up.url, "500ms", workers);
    try {
      using client = await tlsClient("2");
      let failed: string | null = null;
      const inflight = fetch(`https://localhost:${gw.port}/held`, { client }).then(
        async (res) => `${res.status} ${await res.text()}`,
        (err: Error) => {
          failed = [err.message, (err.cause as Error | undefined)?.message].filter(Boolean).join(
            ": ",
          );
          return `failed: ${err.name}`;
        },
      );
      await waitFor(
        () => up.requests.length === 1 || failed !== null,
        "the upstream request",
        10_000,
      );
      assert.equal(failed, null, `the request failed before it reached the upstream: ${failed}`);
      gw.child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        gw.child.status.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
      ]);
      clearTimeout(timer);
      if (!exited) gw.child.kill("SIGKILL");
      assert.ok(exited, "still running 10 s after SIGTERM with a 500 ms drain");
      assert.equal(
        await inflight,
        "503 503 Service Unavailable: Gatehouse is shutting down, try again\n",
      );
      assert.equal((await gw.close()).code, 0, gw.stderr());
    } finally {
      release();
    }
  });
}

async function check(text: string) {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-check-" });
  try {
    const file = join(dir, "check.yaml");
    await Deno.writeTextFile(file, text);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--check", "--config", file],
      stdin: "null",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const MINIMAL = yaml`
  entrypoints: { web: { address: "127.0.0.1:0" } }
`;

Deno.test("SIGTERM the moment the port accepts still drains and exits 0 (signal handlers come first)", async () => {
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) {
    const proxy = await spawnProxy((port) =>
      yaml`
        entrypoints: { web: { address: "127.0.0.1:${port}" } }
        routes: [{ service: app }]
        services: { app: { servers: ["http://127.0.0.1:9"] } }
        admin: { address: "off" }
      `
    );
    proxy.child.kill("SIGTERM");
    codes.push((await proxy.close()).code);
  }
  assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
});

Deno.test("--check exits 0 on a valid file and 1 with every error on an invalid one", async () => {
  const ok = await check(MINIMAL);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /check\.yaml: OK \(1 entrypoint, 0 routes, 0 TCP routes, 0 services\)/);
  const bad = await check(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: nope }]
    timeouts: { connect: soon }
  `);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown service "nope"/);
  assert.match(bad.stderr, /timeouts\.connect/);
  assert.match(bad.stderr, /2 error\(s\); nothing was started/);
});

Deno.test("access log with two workers: one whole line per request, lines over 4 KiB included", async () => {
  await using up = httpUpstream();
  await using gw = await spawnProxy((port) =>
    yaml`
    entrypoints: { web: { address: "127.0.0.1:${port}" } }
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
    log: { access_log: { format: json } }
    admin: { address: "off" }
    workers: 2
  `
  );
  const n = 300;
  // Every other target is 5000 bytes long: its line is longer than a pipe keeps whole (4096).
  const target = (i: number) => `/r${i}/${i % 2 === 0 ? "x".repeat(5000) : ""}`;
  for (let i = 0; i < n; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async (_, k) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
      try {
        await writeAll(
          conn,
          `GET ${target(i + k)} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
        );
        assert.equal((await readResponse(new WireReader(conn))).status, 200);
      } finally {
        conn.close();
      }
    }));
  }
  assert.equal((await gw.close()).code, 0, gw.stderr());
  const lines = gw.stdout().split("\n").filter((line) => line !== "");
  const targets = lines.map((line) => (JSON.parse(line) as { target: string }).target);
  assert.equal(lines.length, n);
  assert.deepEqual(new Set(targets), new Set(Array.from({ length: n }, (_, i) => target(i))));
});
