/**
 * The two steps of a config change (prepare, then commit or abort) and binding on the port
 * another worker isolate bound.
 */
import assert from "node:assert/strict";
import { loadConfigText } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { setPortProbes } from "../tls/server.ts";
import { loadTestConfig, yaml } from "../testing/proxy.ts";
import { accepts } from "../testing/process.ts";
import { httpUpstream, listeningSockets } from "../testing/servers.ts";
import { Runtime } from "./runtime.ts";

async function configOf(text: string, dir: string): Promise<Config> {
  const loaded = await loadConfigText(text, `${dir}/gatehouse.yaml`);
  if (!loaded.ok) throw new Error(`Cannot load the test config: ${loaded.errors[0].message}`);
  return loaded.config;
}

const one = (up: string) =>
  yaml`
  entrypoints: { web: { address: "127.0.0.1:0" } }
  routes: [{ service: app }]
  services: { app: { servers: ["${up}"] } }
`;

Deno.test("prepare binds the new listeners; abort closes them and the running config stays", async () => {
  await using up = httpUpstream(undefined, { name: "a" });
  await using other = httpUpstream(undefined, { name: "b" });
  const { config, dir } = await loadTestConfig(one(up.url));
  const runtime = Runtime.start(config);
  try {
    const web = runtime.port("web")!;
    const next = await configOf(
      yaml`
      entrypoints:
        web: { address: "127.0.0.1:${web}" }
        more: { address: "127.0.0.1:0" }
      routes: [{ service: app }]
      services: { app: { servers: ["${other.url}"] } }
    `,
      dir,
    );
    const prepared = runtime.prepare(next);
    const more = runtime.port("more")!;
    assert.ok(await accepts(more), "bound by prepare");
    assert.equal(await (await fetch(`http://127.0.0.1:${web}/`)).text(), "a", "not yet applied");
    prepared.abort();
    assert.equal(runtime.port("more"), undefined);
    assert.equal(await accepts(more), false, "closed by abort");
    assert.equal(await (await fetch(`http://127.0.0.1:${web}/`)).text(), "a");
    runtime.prepare(next).commit();
    assert.equal(await (await fetch(`http://127.0.0.1:${web}/`)).text(), "b");
    assert.equal(await (await fetch(`http://127.0.0.1:${runtime.port("more")}/`)).text(), "b");
  } finally {
    await runtime.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second runtime binds the port a first one bound for port 0, and both accept", async () => {
  await using up = httpUpstream();
  const { config, dir } = await loadTestConfig(one(up.url));
  const first = Runtime.start(config);
  const port = first.port("web")!;
  setPortProbes(false);
  let second: Runtime;
  try {
    second = Runtime.start(config, {}, {}, { ports: { web: port } });
  } finally {
    setPortProbes(true);
  }
  try {
    assert.equal(second.port("web"), port);
    assert.equal(await listeningSockets(port), 2);
    await first.shutdown();
    // Closed by then, not only asked to close: a socket still in the port's SO_REUSEPORT group
    // would be handed new connections and reset them as it closes.
    assert.equal(await listeningSockets(port), 1, "the first runtime's socket is closed");
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200, "served by the second");
  } finally {
    await first.shutdown();
    await second.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
