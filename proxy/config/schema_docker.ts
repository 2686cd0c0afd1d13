/**
 * The `docker` section: routes and services from the labels of running containers, read from
 * the Docker Engine API (proxy/docker/ does the reading; config/fragments.ts merges what it
 * finds). schema.ts puts it in place.
 *
 * Tested by schema_docker_test.ts.
 *
 * @module
 */
import { def, fail, obj, ok, opt, scalar } from "./dsl.ts";
import { quote } from "./errors.ts";
import { bool, text } from "./values.ts";
import type { DockerEndpoint, DockerSettings } from "./types.ts";

const ENDPOINT_EXPECTED =
  `a Docker API address like "unix:///var/run/docker.sock" or "tcp://docker-api:2375"`;

/** Parses `unix:///path` or `tcp://host:port`; a message when it is neither. */
export function parseDockerEndpoint(value: string): DockerEndpoint | string {
  const unix = /^unix:\/\/(\/.*)$/.exec(value);
  if (unix) return { transport: "unix", path: unix[1] };
  const tcp = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:\s@[\]]+):([0-9]{1,5})\/?$/.exec(value);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return `port ${port} is out of range (1-65535)`;
    return { transport: "tcp", hostname: tcp[1].replace(/^\[(.*)\]$/, "$1"), port };
  }
  if (/^https?:\/\//i.test(value)) {
    return `the Docker API is spoken without TLS here: write "tcp://host:port" for a socket ` +
      `proxy on a private network, found ${quote(value)}`;
  }
  return `expected ${ENDPOINT_EXPECTED}, found ${quote(value)}`;
}

const endpoint = scalar({
  type: "docker endpoint",
  expected: ENDPOINT_EXPECTED,
  json: { type: "string", pattern: "^(?:unix://\\/.*|tcp://[^/\\s@]+:[0-9]{1,5}/?)$" },
  decode(value, source) {
    if (typeof value !== "string") return fail(`expected ${ENDPOINT_EXPECTED}, found ${source}`);
    const parsed = parseDockerEndpoint(value);
    return typeof parsed === "string" ? fail(parsed) : ok({ text: value, endpoint: parsed });
  },
});

/** `docker:` at the top level of the file. */
export const dockerSection = obj({
  enabled: def(
    bool(),
    false,
    "Route running containers by their labels (gatehouse.*); the Docker API is root-equivalent: " +
      "give Gatehouse a read-only socket proxy",
  ),
  endpoint: def(
    endpoint,
    "unix:///var/run/docker.sock",
    `Docker Engine API: "unix:///path" or "tcp://host:port" (a socket proxy); only GET is sent`,
  ),
  exposed_by_default: def(
    bool(),
    false,
    `Route containers without "gatehouse.enable=true" too ("gatehouse.enable=false" opts out)`,
  ),
  network: opt(
    text({ expected: "a Docker network name", pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ }),
    "Network whose address Gatehouse uses for containers (label gatehouse.docker.network " +
      "overrides it)",
    "the container's network (an error for containers on several)",
  ),
  traefik_labels: def(
    bool(),
    false,
    "Also read traefik.* labels (routers with Host/PathPrefix rules, load balancer ports)",
  ),
}, "docker provider");

/** The decoded section, resolved. */
export function dockerSettings(raw: {
  enabled: boolean;
  endpoint: { text: string; endpoint: DockerEndpoint };
  exposed_by_default: boolean;
  network: string | undefined;
  traefik_labels: boolean;
}): DockerSettings {
  return {
    enabled: raw.enabled,
    endpoint: raw.endpoint.endpoint,
    endpointText: raw.endpoint.text,
    exposedByDefault: raw.exposed_by_default,
    network: raw.network ?? null,
    traefikLabels: raw.traefik_labels,
  };
}
