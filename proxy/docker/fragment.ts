/**
 * A group of replicas and what their labels define, turned into config fragments: every
 * reachable replica becomes a server of each service, a route without a service gets the
 * container's only one (or an implicit service named after the group), a service without a port
 * gets the only one the container exposes. A replica that cannot be reached gets a fragment of
 * its own holding only its error, so it is reported and skipped while the others serve.
 *
 * Tested by labels_test.ts.
 *
 * @module
 */
import type { ConfigError } from "../config/errors.ts";
import type { ConfigFragment, FragmentItem } from "../config/fragments.ts";
import type { DockerSettings } from "../config/types.ts";
import { addressOf, type ContainerInfo, type ReplicaGroup } from "./containers.ts";
import type { Definition, Field, Kind, LabelProblem, LabelService } from "./definition.ts";
import { ROUTE_SECTION } from "./labels.ts";

/** Whether a container with `def` takes part: opted in, or exposed by default and not out. */
export function isEnabled(def: Definition, settings: DockerSettings): boolean {
  if (def.enable !== undefined) return def.enable;
  return settings.exposedByDefault && !def.empty;
}

/** `{match: {host: v}}` from "match.host". */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function fieldsOf(fields: ReadonlyMap<string, Field>, value: Record<string, unknown>) {
  const labels: Record<string, string> = {};
  for (const [path, field] of fields) {
    setPath(value, path, field.value);
    labels[path] = field.label;
  }
  return labels;
}

/** What a group adds to the config, built from the labels of `definer`, one of its replicas. */
export interface GroupInput {
  readonly group: ReplicaGroup;
  readonly definer: ContainerInfo;
  readonly definition: Definition;
  readonly settings: DockerSettings;
  /** The config file, for the `file` of errors. */
  readonly file: string;
}

/** The fragments of a group: one with its routes and services, one per unreachable replica. */
export function groupFragments(input: GroupInput): ConfigFragment[] {
  const { group, definition: def, settings, file } = input;
  const network = (def.network?.value as string | undefined) ?? settings.network;
  const anchor = def.network?.label ?? (def.enableLabel || def.routes[0]?.prefix || "gatehouse");
  const problem = (container: string, label: string, message: string): ConfigError => ({
    file,
    line: 0,
    col: 0,
    path: "",
    message,
    label: { container, label },
  });
  const hosts: string[] = [];
  const out: ConfigFragment[] = [];
  for (const replica of group.replicas) {
    const address = addressOf(replica, network);
    if ("host" in address) {
      hosts.push(address.host);
      continue;
    }
    const message = `Cannot reach the container: ${address.problem}`;
    out.push({
      container: replica.name,
      items: [],
      errors: [problem(replica.name, anchor, message)],
      warnings: [],
    });
  }
  if (hosts.length === 0) return out;
  const name = input.definer.name;
  const errors = def.errors.map((p: LabelProblem) => problem(name, p.label, p.message));
  const warnings = def.warnings.map((p: LabelProblem) => problem(name, p.label, p.message));
  if (def.routes.length === 0) {
    warnings.push(problem(
      name,
      anchor,
      `the container is enabled but defines no route: add a label like ` +
        `gatehouse.http.routes.<name>.host=<host>`,
    ));
  }
  const items: FragmentItem[] = [];
  const services = [...def.services];
  for (const route of def.routes) {
    let service = route.service;
    if (service === undefined) {
      const sameKind = services.filter((s) => s.kind === route.kind);
      if (sameKind.length > 1) {
        const names = sameKind.map((s) => s.name).join(", ");
        errors.push(problem(
          name,
          route.prefix,
          `route "${route.name}" does not say which service it uses (services: ${names}): ` +
            `add the label ${route.prefix}.service=<name>`,
        ));
        continue;
      }
      const traefik = route.prefix.startsWith("traefik.");
      const chosen = sameKind[0] ?? implicitService(route.kind, group.name, services, traefik);
      service = { value: chosen.name, label: `${route.prefix}` };
    }
    const value: Record<string, unknown> = { name: route.name };
    const labels = { "": route.prefix, ...fieldsOf(route.fields, value), service: service.label };
    value.service = service.value;
    items.push({ section: ROUTE_SECTION[route.kind], value, labels });
  }
  for (const service of services) {
    const port = service.port?.value ?? onlyPort(input.definer, service, (label, message) => {
      errors.push(problem(name, label, message));
    });
    if (port === undefined) continue;
    const scheme = service.kind === "http" ? String(service.scheme?.value ?? "http") : service.kind;
    const servers = hosts.map((host) => `${scheme}://${host}:${port}`);
    const value: Record<string, unknown> = { servers };
    const portLabel = service.port?.label ?? service.portLabel;
    const labels = { "": service.prefix, ...fieldsOf(service.fields, value), servers: portLabel };
    items.push({ section: "services", key: service.name, value, labels });
  }
  out.unshift({ container: name, items, errors, warnings });
  return out;
}

/** The service a route without one gets: named after the group, its port the exposed one. */
function implicitService(
  kind: Kind,
  group: string,
  services: LabelService[],
  traefik: boolean,
): LabelService {
  const name = kind === "http" ? group : `${group}-${kind}`;
  const prefix = `${traefik ? "traefik" : "gatehouse"}.${kind}.services.${name}`;
  const portLabel = traefik ? `${prefix}.loadbalancer.server.port` : `${prefix}.port`;
  const service: LabelService = { kind, name, prefix, portLabel, fields: new Map() };
  services.push(service);
  return service;
}

/** The only port `c` exposes for `service`'s protocol, or undefined with an error reported. */
function onlyPort(
  c: ContainerInfo,
  service: LabelService,
  report: (label: string, message: string) => void,
): number | undefined {
  const protocol = service.kind === "udp" ? "udp" : "tcp";
  const ports = c.ports.filter((p) => p.protocol === protocol).map((p) => p.port);
  if (ports.length === 1) return ports[0];
  const label = service.portLabel;
  const found = ports.length === 0
    ? `the container exposes no ${protocol.toUpperCase()} port`
    : `the container exposes several ${protocol.toUpperCase()} ports (${ports.join(", ")})`;
  report(label, `${found}: say which one with the label ${label}=<port>`);
  return undefined;
}
