import assert from "node:assert/strict";
import { join } from "node:path";
import { tlsClient, yaml } from "./testing/proxy.ts";
import { accepts, spawnProxy } from "./testing/process.ts";
import { httpUpstream, waitFor } from "./testing/servers.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("SIGTERM: the request in flight completes, new connections are refused, exit 0", async () => {
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

/** A Gatehouse process with one TLS entrypoint in front of `upstream`. */
function tlsProxy(upstream: string, drain: string) {
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
  `
  );
}

Deno.test("SIGTERM: an HTTP/2 request in flight completes before the exit", async () => {
  await using up = httpUpstream(async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return new Response("finished");
  });
  await using gw = await tlsProxy(up.url, "5s");
  using client = await tlsClient("2");
  const inflight = fetch(`https://localhost:${gw.port}/slow`, { client }).then(async (res) => {
    return { status: res.status, text: await res.text() };
  });
  await waitFor(() => up.requests.length === 1, "the upstream request", 10_000);
  gw.child.kill("SIGTERM");
  assert.deepEqual(await inflight, { status: 200, text: "finished" });
  assert.equal((await gw.close()).code, 0, gw.stderr());
});

Deno.test("SIGTERM: an HTTP/2 request still running at the drain deadline gets 503, then exit 0", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  await using up = httpUpstream(async () => {
    await held;
    return new Response("too late");
  });
  await using gw = await tlsProxy(up.url, "500ms");
  try {
    using client = await tlsClient("2");
    const inflight = fetch(`https://localhost:${gw.port}/held`, { client }).then(
      async (res) => `${res.status} ${await res.text()}`,
      (err: Error) => `failed: ${err.name}`,
    );
    await waitFor(() => up.requests.length === 1, "the upstream request", 10_000);
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
