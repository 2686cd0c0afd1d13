import assert from "node:assert/strict";
import type { PassiveHealth, ServerRef } from "../config/types.ts";
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

function server(): UpstreamServer {
  return new UpstreamServer(ref("http://app:8080"));
}

const PASSIVE: PassiveHealth = { maxFailures: 3, window: 10_000, ejectFor: 30_000 };
const T = 1_000_000;

Deno.test("passive health: max_failures within the window eject, older failures do not count", () => {
  const s = server();
  assert.equal(s.recordFailure(PASSIVE, T), false);
  assert.equal(s.recordFailure(PASSIVE, T + 5_000), false);
  assert.equal(s.recordFailure(PASSIVE, T + 10_001), false);
  assert.equal(s.ejectedUntil, 0, "the first failure had left the window");
  assert.equal(s.recordFailure(PASSIVE, T + 12_000), true, "this failure ejects");
  assert.equal(s.ejectedUntil, T + 12_000 + PASSIVE.ejectFor);
  assert.equal(s.available(T + 12_001), false);
  assert.equal(s.available(T + 12_001, true), true, "panic routing ignores ejection");
  assert.equal(s.available(T + 12_000 + PASSIVE.ejectFor), true, "back when ejectFor is over");
});

Deno.test("passive health: after an ejection one failure ejects again, until a success", () => {
  const s = server();
  for (let i = 0; i < 3; i++) s.recordFailure(PASSIVE, T);
  const back = T + PASSIVE.ejectFor;
  assert.equal(s.recordFailure(PASSIVE, back), true, "on probation: one failure is enough");
  assert.equal(s.ejectedUntil, back + PASSIVE.ejectFor);
  s.recordSuccess();
  const later = back + 1_000;
  s.recordFailure(PASSIVE, later);
  s.recordFailure(PASSIVE, later);
  assert.equal(s.ejectedUntil, back + PASSIVE.ejectFor, "a success ends probation");
  assert.equal(s.recordFailure(PASSIVE, later), false, "it was out already: no new ejection");
  assert.equal(s.ejectedUntil, later + PASSIVE.ejectFor, "but the ejection is longer");
});

// Panic routing sends to an ejected server, so a down one fails every request; each failure
// once set an (unref'd) timer of eject_for, 30 s: 10k failed requests/s held 300k timers and
// +600 MiB RSS. Unref'd timers escape the op sanitizer, so setTimeout itself is watched.
Deno.test("passive health: failures of an ejected server leave nothing scheduled", () => {
  const s = server();
  const setTimeoutBefore = globalThis.setTimeout;
  let timers = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timers++;
    return setTimeoutBefore(...args);
  }) as typeof setTimeout;
  let ejections = 0;
  try {
    for (let i = 0; i < 10_000; i++) if (s.recordFailure(PASSIVE, T + i)) ejections++;
  } finally {
    globalThis.setTimeout = setTimeoutBefore;
  }
  assert.equal(timers, 0, "a timer per failure");
  assert.equal(ejections, 1, "one ejection, extended by each failure");
  assert.equal(s.ejectedUntil, T + 9_999 + PASSIVE.ejectFor);
});

Deno.test("passive health off: failures never eject", () => {
  const s = server();
  for (let i = 0; i < 100; i++) assert.equal(s.recordFailure(null, T), false);
  assert.equal(s.ejectedUntil, 0);
});

Deno.test("active health: setHealthy reports changes; unhealthy is never available", () => {
  const s = server();
  assert.equal(s.isUp(), true);
  assert.equal(s.setHealthy(true), false);
  assert.equal(s.setHealthy(false), true);
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
  const s = server();
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
