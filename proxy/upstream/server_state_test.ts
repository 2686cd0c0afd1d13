import assert from "node:assert/strict";
import type { PassiveHealth, ServerRef } from "../config/types.ts";
import { waitFor } from "../testing/servers.ts";
import { serverAuthority, UpstreamServer } from "./server_state.ts";

function ref(url: string): ServerRef {
  const { protocol, hostname, port } = new URL(url);
  const scheme = protocol.slice(0, -1) as ServerRef["scheme"];
  const defaultPort = scheme === "https" ? 443 : 80;
  return {
    url,
    scheme,
    hostname: hostname.replace(/^\[|\]$/g, ""),
    port: port === "" ? defaultPort : Number(port),
    path: null,
    weight: 1,
  };
}

/** A server, counting its change callbacks. */
function server() {
  const s = new UpstreamServer(ref("http://app:8080"));
  let changes = 0;
  s.onChange = () => changes++;
  return { s, changes: () => changes };
}

/** Ejections end almost at once in wall time, so the re-check timer does not outlive a test. */
const PASSIVE: PassiveHealth = { maxFailures: 3, window: 10_000, ejectFor: 5 };
const T = 1_000_000;

Deno.test("passive health: max_failures within the window eject, older failures do not count", async () => {
  const { s, changes } = server();
  s.recordFailure(PASSIVE, T);
  s.recordFailure(PASSIVE, T + 5_000);
  s.recordFailure(PASSIVE, T + 10_001);
  assert.equal(s.ejectedUntil, 0, "the first failure had left the window");
  s.recordFailure(PASSIVE, T + 12_000);
  assert.equal(s.ejectedUntil, T + 12_000 + PASSIVE.ejectFor);
  assert.equal(s.available(T + 12_001), false);
  assert.equal(s.available(T + 12_001, true), true, "panic routing ignores ejection");
  assert.equal(s.available(T + 12_000 + PASSIVE.ejectFor), true, "back when ejectFor is over");
  await waitFor(() => changes() === 2, "a change when ejected and one when it ends");
});

Deno.test("passive health: after an ejection one failure ejects again, until a success", async () => {
  const { s, changes } = server();
  for (let i = 0; i < 3; i++) s.recordFailure(PASSIVE, T);
  const back = T + PASSIVE.ejectFor;
  s.recordFailure(PASSIVE, back);
  assert.equal(s.ejectedUntil, back + PASSIVE.ejectFor, "on probation: one failure is enough");
  s.recordSuccess();
  const later = back + 1_000;
  s.recordFailure(PASSIVE, later);
  s.recordFailure(PASSIVE, later);
  assert.equal(s.ejectedUntil, back + PASSIVE.ejectFor, "a success ends probation");
  s.recordFailure(PASSIVE, later);
  assert.equal(s.ejectedUntil, later + PASSIVE.ejectFor);
  await waitFor(() => changes() === 6, "every ejection and its end reported");
});

Deno.test("passive health off: failures never eject", () => {
  const { s } = server();
  for (let i = 0; i < 100; i++) s.recordFailure(null, T);
  assert.equal(s.ejectedUntil, 0);
});

Deno.test("active health: setHealthy reports changes; unhealthy is never available", () => {
  const { s, changes } = server();
  assert.equal(s.isUp(), true);
  assert.equal(s.setHealthy(true), false);
  assert.equal(s.setHealthy(false), true);
  assert.equal(changes(), 1);
  assert.equal(s.isUp(), false);
  assert.equal(s.available(Date.now(), true), false, "panic routing skips failed checks");
  assert.equal(s.setHealthy(true), true);
  assert.equal(s.isUp(), true);
});

Deno.test("serverAuthority: default ports left out, IPv6 in brackets", () => {
  assert.equal(serverAuthority(ref("http://app:80")), "app");
  assert.equal(serverAuthority(ref("https://api.internal")), "api.internal");
  assert.equal(serverAuthority(ref("https://api.internal:80")), "api.internal:80");
  assert.equal(serverAuthority(ref("http://app:8080")), "app:8080");
  assert.equal(serverAuthority(ref("http://[::1]:8080")), "[::1]:8080");
  assert.equal(serverAuthority(ref("http://[fd00::2]")), "[fd00::2]");
});

Deno.test("an in-flight lease counts once however often it is released", () => {
  const { s } = server();
  const a = s.acquire();
  const b = s.acquire();
  assert.equal(s.inflight, 2);
  a.release();
  a.release();
  assert.equal(a.held, false);
  assert.equal(s.inflight, 1);
  b.release();
  assert.equal(s.inflight, 0);
});
