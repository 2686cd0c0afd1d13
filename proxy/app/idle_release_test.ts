import assert from "node:assert/strict";
import { CHECK_MS, GROWTH_BYTES, IdleRelease, MIN_GAP_MS } from "./idle_release.ts";
import { captureLog, logText } from "../testing/logs.ts";
import { spawnProxy } from "../testing/process.ts";
import { yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";

const MIB = 1024 * 1024;

/** A policy over a counter and memory figures the test sets, counting releases. */
function policy() {
  const state = { activity: 0, held: 40 * MIB, releases: 0 };
  const release = new IdleRelease(() => state.activity, {
    memory: () => ({ heapTotal: state.held, external: 0, rss: state.held + 50 * MIB }),
    release: () => {
      state.releases++;
      state.held = 40 * MIB;
      return Promise.resolve({ pauseMs: 12 });
    },
  });
  return { state, release };
}

Deno.test("idle release: only once the isolate is quiet, its heap grown, and not again within a minute", async () => {
  await using logs = await captureLog("memory");
  const { state, release } = policy();
  let now = 0;
  const tick = () => release.check(now += CHECK_MS);
  // Busy: requests keep arriving while the heap grows.
  state.held += GROWTH_BYTES + MIB;
  state.activity += 500;
  assert.equal(await tick(), false, "requests came in since the last check");
  // Quiet for a whole check, grown past the bound: released, and said.
  assert.equal(await tick(), true);
  assert.equal(state.releases, 1);
  assert.match(
    logs.records.map(logText).join("\n"),
    /Gave back memory after the load: RSS 123 -> 90 MiB, V8 heap and buffers 73 -> 40 MiB \(the collection stopped this isolate for 12 ms\)/,
  );
  // Another burst at once: not within MIN_GAP_MS of the last release.
  state.activity += 10;
  state.held += GROWTH_BYTES + MIB;
  assert.equal(await tick(), false);
  assert.equal(await tick(), false, "quiet, grown, but a release was less than a minute ago");
  now += MIN_GAP_MS;
  assert.equal(await tick(), true, "a minute later");
  // Quiet, but grown less than GROWTH_BYTES over the last release: nothing to give back.
  now += MIN_GAP_MS;
  state.held += GROWTH_BYTES - MIB;
  assert.equal(await tick(), false);
  assert.equal(state.releases, 2);
});

Deno.test("idle release: a steady trickle of requests never triggers it", async () => {
  const { state, release } = policy();
  state.held += 2 * GROWTH_BYTES;
  let now = 0;
  for (let i = 0; i < 20; i++) {
    state.activity++;
    assert.equal(await release.check(now += MIN_GAP_MS), false);
  }
  assert.equal(state.releases, 0);
});

Deno.test({
  name: "idle release: Gatehouse gives back what an HTTP/2 load grew it to once the load ends",
  sanitizeOps: false,
  async fn() {
    await using up = httpUpstream();
    await using gw = await spawnProxy((port) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:${port}" } }
      routes: [{ service: app }]
      services: { app: { servers: ["${up.url}"] } }
      workers: 1
      admin: { address: "off" }
      log: { access_log: { enabled: false } }
    `
    );
    const load = await new Deno.Command("h2load", {
      args: ["-c50", "-m10", "-D", "3", `http://127.0.0.1:${gw.port}/`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(load.success, new TextDecoder().decode(load.stderr));
    const loaded = (await gw.memory()).rss;
    const line = /Gave back memory after the load: RSS (\d+) -> (\d+) MiB/;
    await waitFor(() => line.test(gw.stderr()), "the release after the load", 3 * CHECK_MS);
    const [, before, after] = line.exec(gw.stderr())!.map(Number);
    assert.ok(after < before - 32, `RSS ${before} -> ${after} MiB`);
    const now = (await gw.memory()).rss;
    assert.ok(now < loaded - 32 * MIB, `RSS after the load ${loaded / MIB} MiB, now ${now / MIB}`);
  },
});
