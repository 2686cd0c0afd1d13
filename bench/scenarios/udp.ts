/**
 * UDP (issue 20): datagram round trips through a UDP listener to a UDP echo upstream, 50 clients
 * each with its own socket (a session each in the proxy), with 64 B and 1200 B payloads.
 * HAProxy and Caddy cannot forward UDP: n/a.
 *
 * @module
 */
import type { Target } from "../lib/targets.ts";
import { readOperations } from "./http.ts";
import {
  denoClient,
  MAIN_TARGETS,
  measureTool,
  rateMetrics,
  type Scenario,
  type ScenarioContext,
} from "./types.ts";

const CLIENTS = 50;

function echo(size: number) {
  return async (ctx: ScenarioContext, target: Target) => {
    const args = (seconds: number) =>
      denoClient("udp_load.ts", {
        port: target.endpoints.udpEcho!,
        size,
        clients: CLIENTS,
        seconds,
        warmup: 0,
      });
    const { seconds, warmup } = ctx.timing;
    return await measureTool(
      ctx,
      target,
      { warmup: warmup > 0 ? args(warmup) : undefined, argv: args(seconds) },
      (out) => readOperations(out.stdout, "dgram_s", "udp_load.ts"),
    );
  };
}

function scenario(size: number): Scenario {
  return {
    id: `udp-${size}b`,
    title: `UDP echo, ${size} B datagrams`,
    method: `bench/clients/udp_load.ts --size ${size} --clients ${CLIENTS}: each client socket ` +
      "sends one datagram, waits for its echo from bench/servers/udp_echo.ts and sends the next " +
      "(a datagram without an echo within 1 s counts as an error)",
    needs: "udpEcho",
    targets: MAIN_TARGETS,
    metrics: rateMetrics("dgram_s", "datagrams/s", "p99 round trip ms"),
    operation: "dgram",
    run: echo(size),
  };
}

/** The UDP scenarios. */
export const UDP_SCENARIOS: Scenario[] = [scenario(64), scenario(1200)];
