/**
 * Helpers for the docker/ tests: containers as the list API describes them, and loading a config
 * file with the fragments their labels make.
 *
 * @module
 */
import { loadConfigText, type LoadResult } from "../config/load.ts";
import type { DockerSettings } from "../config/types.ts";
import type { ContainerInfo } from "./containers.ts";
import { fragmentsFor } from "./sync.ts";
import type { ConfigFragment } from "../config/fragments.ts";

/** Docker settings as the config resolves them, with `overrides`. */
export function settings(overrides: Partial<DockerSettings> = {}): DockerSettings {
  return {
    enabled: true,
    endpoint: { transport: "unix", path: "/var/run/docker.sock" },
    endpointText: "unix:///var/run/docker.sock",
    exposedByDefault: false,
    network: null,
    traefikLabels: false,
    ...overrides,
  };
}

let serial = 0;

/** A running container on network "apps" with `labels` (overrides for the rest). */
export function container(
  name: string,
  labels: Record<string, string>,
  overrides: Partial<ContainerInfo> = {},
): ContainerInfo {
  serial++;
  return {
    id: `${name}-${serial}`.padEnd(64, "0"),
    name,
    created: 1_700_000_000 + serial,
    labels,
    state: "running",
    health: "none",
    networkMode: "apps",
    networks: [{ name: "apps", ip: `172.20.0.${serial % 250 + 2}`, ipv6: "" }],
    ports: [{ port: 8000, protocol: "tcp" }],
    ...overrides,
  };
}

/** A replica of compose service `service` in project "shop". */
export function replica(
  service: string,
  index: number,
  labels: Record<string, string>,
  overrides: Partial<ContainerInfo> = {},
): ContainerInfo {
  return container(`shop-${service}-${index}`, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": service,
    ...labels,
  }, overrides);
}

/** The fragments of the enabled groups among `containers`, as the provider makes them. */
export function fragmentsOf(
  containers: readonly ContainerInfo[],
  docker: DockerSettings = settings(),
  file = "/etc/gatehouse/gatehouse.yaml",
): ConfigFragment[] {
  return fragmentsFor(containers, docker, file).fragments;
}

/** Loads `text` (as if from `file`) with the fragments of `containers` merged in. */
export function loadWith(
  text: string,
  containers: readonly ContainerInfo[],
  docker: DockerSettings = settings(),
  file = "/etc/gatehouse/gatehouse.yaml",
): Promise<LoadResult> {
  return loadConfigText(text, file, fragmentsOf(containers, docker, file));
}
