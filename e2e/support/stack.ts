/**
 * What the compose and Swarm tests share: the environment docker-compose.yml reads, the
 * development CA copied out of the certs volume, and the checks through Gatehouse's HTTPS port.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { httpsJson, tcpEcho, websocketEcho } from "./client.ts";
import { docker, eventually, freePort } from "./docker.ts";

/** Host ports and image tag for one deployment of docker-compose.yml. */
export interface StackEnv {
  readonly env: Record<string, string>;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly tcpPort: number;
  readonly adminPort: number;
}

/**
 * The variables docker-compose.yml reads: the images of `tag`, and free host ports instead of
 * 80, 443, 7000 and 9901, which other programs on a shared machine may hold.
 */
export function stackEnv(tag: string): StackEnv {
  const httpPort = freePort();
  const httpsPort = freePort();
  const tcpPort = freePort();
  const adminPort = freePort();
  return {
    env: {
      GATEHOUSE_TAG: tag,
      GATEHOUSE_HTTP_PORT: String(httpPort),
      GATEHOUSE_HTTPS_PORT: String(httpsPort),
      GATEHOUSE_TCP_PORT: String(tcpPort),
      GATEHOUSE_ADMIN_PORT: String(adminPort),
    },
    httpPort,
    httpsPort,
    tcpPort,
    adminPort,
  };
}

/**
 * Copies the development CA that Gatehouse created on first start out of the certs volume of
 * container `id` into `dir`; returns its path and text.
 */
export async function devCa(id: string, dir: string): Promise<{ caFile: string; caPem: string }> {
  const caFile = join(dir, "gatehouse-dev-ca.crt");
  await eventually(
    "the development CA in the certs volume",
    async () => {
      await docker("cp", `${id}:/certs/gatehouse-dev-ca.crt`, caFile);
      return true;
    },
    60_000,
    500,
  );
  return { caFile, caPem: await Deno.readTextFile(caFile) };
}

/**
 * Checks each demo app through Gatehouse: app.localhost and ws.localhost (HTTP and a WebSocket
 * echo) on `ports.https`, and the TCP echo on `ports.tcp`.
 */
export async function checkDemoApps(
  ports: { https: number; tcp: number },
  ca: { caFile: string; caPem: string },
): Promise<void> {
  const target = (host: string) => ({ host, port: ports.https, caFile: ca.caFile });
  const app = await eventually(
    "app.localhost",
    () => httpsJson(target("app.localhost"), "/"),
    60_000,
  );
  assert.equal(app.app, "app");
  const ws = await eventually("ws.localhost", () => httpsJson(target("ws.localhost"), "/"), 60_000);
  assert.equal(ws.app, "ws");
  const echoed = await websocketEcho(ports.https, "ws.localhost", ca.caPem, ["ping"]);
  assert.deepEqual(echoed, ["ping"]);
  const bytes = new TextEncoder().encode("hello through port 7000\n");
  const back = await eventually("the TCP echo", async () => {
    const received = await tcpEcho(ports.tcp, bytes);
    return received.length > 0 && received;
  }, 60_000);
  assert.deepEqual(back, bytes);
}
