/**
 * Running containers as the Docker Engine API lists them (`GET /containers/json`), read
 * defensively, and what Gatehouse derives from them: which replicas form one service (a compose
 * service, a Swarm service, else the container alone) and the address to reach a container at.
 *
 * Only the list is used, never `GET /containers/{id}/json`: the list holds the labels, state,
 * health, networks and exposed ports, while inspect would also hand out environment variables
 * (secrets), so a socket proxy in front of Gatehouse can refuse it.
 *
 * Tested by containers_test.ts.
 *
 * @module
 */

/** Health as Docker reports it; "none" for a container without a HEALTHCHECK. */
export type Health = "none" | "starting" | "healthy" | "unhealthy";

/** One network a container is attached to. */
export interface ContainerNetwork {
  readonly name: string;
  /** IPv4 address on it; "" when none. */
  readonly ip: string;
  /** Global IPv6 address on it; "" when none. */
  readonly ipv6: string;
}

/** A port the container exposes (EXPOSE or --expose), published or not. */
export interface ExposedPort {
  readonly port: number;
  readonly protocol: string;
}

/** A container of the list. */
export interface ContainerInfo {
  readonly id: string;
  /** Its name without the leading "/". */
  readonly name: string;
  /** Unix seconds. */
  readonly created: number;
  readonly labels: Readonly<Record<string, string>>;
  /** "running", "paused", "restarting", ... */
  readonly state: string;
  readonly health: Health;
  /** "bridge", "host", "none", "container:<id>" or a network name. */
  readonly networkMode: string;
  readonly networks: readonly ContainerNetwork[];
  readonly ports: readonly ExposedPort[];
}

type Json = Record<string, unknown>;

function object(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Json : {};
}

function string(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** "Up 5 seconds (healthy)", "Up 2 minutes (health: starting)", "Up 1 hour (unhealthy)". */
export function healthOf(status: string): Health {
  if (status.includes("(healthy)")) return "healthy";
  if (status.includes("(unhealthy)")) return "unhealthy";
  if (status.includes("(health: starting)")) return "starting";
  return "none";
}

/** The containers of a `GET /containers/json` answer; throws when it is not a list. */
export function parseContainerList(body: unknown): ContainerInfo[] {
  if (!Array.isArray(body)) throw new Error("Cannot read the container list: not a JSON array");
  const out: ContainerInfo[] = [];
  for (const raw of body) {
    const c = object(raw);
    const id = string(c.Id);
    if (id === "") continue;
    const names = Array.isArray(c.Names) ? c.Names.map(string).filter(Boolean) : [];
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(object(c.Labels))) labels[k] = string(v);
    const networks = Object.entries(object(object(c.NetworkSettings).Networks)).map((
      [name, n],
    ) => ({ name, ip: string(object(n).IPAddress), ipv6: string(object(n).GlobalIPv6Address) }));
    const ports = (Array.isArray(c.Ports) ? c.Ports : []).map(object).flatMap((p) =>
      typeof p.PrivatePort === "number"
        ? [{ port: p.PrivatePort, protocol: string(p.Type) || "tcp" }]
        : []
    );
    const unique = new Map(ports.map((p) => [`${p.port}/${p.protocol}`, p]));
    out.push({
      id,
      name: (names[0] ?? id.slice(0, 12)).replace(/^\//, ""),
      created: typeof c.Created === "number" ? c.Created : 0,
      labels,
      state: string(c.State),
      health: healthOf(string(c.Status)),
      networkMode: string(object(c.HostConfig).NetworkMode),
      networks,
      ports: [...unique.values()].sort((a, b) => a.port - b.port),
    });
  }
  return out;
}

/** Replicas that form one service: a compose service, a Swarm service, or one container. */
export interface ReplicaGroup {
  /** Unique: "compose:<project>/<service>", "swarm:<service>", "container:<name>". */
  readonly key: string;
  /** The name of implicit services: the compose or Swarm service, else the container's name. */
  readonly name: string;
  /** Oldest first. */
  readonly replicas: readonly ContainerInfo[];
}

/** The group `c` belongs to. */
export function groupKeyOf(c: ContainerInfo): { key: string; name: string } {
  const project = c.labels["com.docker.compose.project"];
  const service = c.labels["com.docker.compose.service"];
  if (project && service) return { key: `compose:${project}/${service}`, name: service };
  const swarm = c.labels["com.docker.swarm.service.name"];
  if (swarm) return { key: `swarm:${swarm}`, name: swarm };
  return { key: `container:${c.name}`, name: c.name };
}

/** Groups `containers`, the group with the oldest replica first (it wins name clashes). */
export function groupReplicas(containers: readonly ContainerInfo[]): ReplicaGroup[] {
  const groups = new Map<string, { name: string; replicas: ContainerInfo[] }>();
  for (const c of containers) {
    const { key, name } = groupKeyOf(c);
    const group = groups.get(key) ?? { name, replicas: [] };
    group.replicas.push(c);
    groups.set(key, group);
  }
  const byAge = (a: ContainerInfo, b: ContainerInfo) =>
    a.created - b.created || a.name.localeCompare(b.name);
  return [...groups].map(([key, g]) => ({ key, name: g.name, replicas: g.replicas.sort(byAge) }))
    .sort((a, b) => byAge(a.replicas[0], b.replicas[0]));
}

/** The address to reach `c` at, or why there is none. */
export function addressOf(
  c: ContainerInfo,
  network: string | null,
): { host: string } | { problem: string } {
  if (c.networkMode === "host") return { host: "127.0.0.1" };
  const usable = c.networks.filter((n) => n.ip !== "" || n.ipv6 !== "");
  let chosen: ContainerNetwork | undefined;
  if (network !== null) {
    chosen = usable.find((n) => n.name === network);
    if (chosen === undefined) {
      const on = usable.map((n) => n.name).join(", ") || "none with an address";
      return { problem: `it is not attached to network "${network}" (its networks: ${on})` };
    }
  } else if (usable.length === 1) {
    chosen = usable[0];
  } else if (usable.length === 0) {
    return { problem: `it has no IP address (network mode "${c.networkMode}")` };
  } else {
    const names = usable.map((n) => n.name).join(", ");
    return {
      problem: `it is attached to several networks (${names}): set docker.network in the ` +
        `config, or label the container gatehouse.docker.network=<name>`,
    };
  }
  return { host: chosen.ip !== "" ? chosen.ip : `[${chosen.ipv6}]` };
}
