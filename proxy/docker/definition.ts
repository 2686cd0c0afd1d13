/**
 * What the labels of one container define, before addresses are known: routes and services
 * with each value's label (for messages), plus the problems found. labels.ts (gatehouse.*) and
 * traefik_labels.ts (traefik.*) both fill one; fragment.ts turns it into a config fragment for
 * the container's replicas.
 *
 * Tested through labels_test.ts and traefik_labels_test.ts.
 *
 * @module
 */

/** Which kind of route or service: HTTP routes, TCP streams, UDP datagrams. */
export type Kind = "http" | "tcp" | "udp";

/** A value for a key of the config item, and the label it came from. */
export interface Field {
  readonly value: unknown;
  readonly label: string;
}

/** A route: its config keys by dotted YAML path (`match.host`, `strip_prefix`). */
export interface LabelRoute {
  readonly kind: Kind;
  readonly name: string;
  /** The labels' common prefix: "gatehouse.http.routes.shop". */
  readonly prefix: string;
  readonly fields: Map<string, Field>;
  /** The service it names; absent: the container's only service of its kind. */
  service?: Field;
}

/** A service: its config keys (`balancing`, `health_check.path`) and where its servers listen. */
export interface LabelService {
  readonly kind: Kind;
  readonly name: string;
  readonly prefix: string;
  /** The label that would set the port: "gatehouse.http.services.web.port". */
  readonly portLabel: string;
  readonly fields: Map<string, Field>;
  /** The container port; absent: the only one the container exposes. */
  port?: Field;
  /** "http" or "https" (HTTP services). */
  scheme?: Field;
}

/** A problem at one label. */
export interface LabelProblem {
  readonly label: string;
  readonly message: string;
}

/** Everything one container's labels say. */
export class Definition {
  /** gatehouse.enable (or traefik.enable): true, false, or not said. */
  enable: boolean | undefined;
  /** The label that said it. */
  enableLabel = "";
  /** gatehouse.docker.network: the network to reach the container on. */
  network: Field | undefined;
  readonly routes: LabelRoute[] = [];
  readonly services: LabelService[] = [];
  readonly errors: LabelProblem[] = [];
  readonly warnings: LabelProblem[] = [];

  /** The route `name` of `kind`, created on first use. */
  route(kind: Kind, name: string, prefix: string): LabelRoute {
    let route = this.routes.find((r) => r.kind === kind && r.name === name);
    if (!route) {
      route = { kind, name, prefix, fields: new Map() };
      this.routes.push(route);
    }
    return route;
  }

  /** The service `name` of `kind`, created on first use. */
  service(kind: Kind, name: string, prefix: string, portLabel = `${prefix}.port`): LabelService {
    let service = this.services.find((s) => s.kind === kind && s.name === name);
    if (!service) {
      service = { kind, name, prefix, portLabel, fields: new Map() };
      this.services.push(service);
    }
    return service;
  }

  error(label: string, message: string): void {
    this.errors.push({ label, message });
  }

  warn(label: string, message: string): void {
    this.warnings.push({ label, message });
  }

  /** Whether any route or service was defined. */
  get empty(): boolean {
    return this.routes.length === 0 && this.services.length === 0;
  }

  /** Adds everything `other` defines (the traefik.* labels after the gatehouse.* ones). */
  merge(other: Definition): void {
    this.enable = this.enable ?? other.enable;
    if (!this.enableLabel) this.enableLabel = other.enableLabel;
    this.network = this.network ?? other.network;
    this.routes.push(...other.routes);
    this.services.push(...other.services);
    this.errors.push(...other.errors);
    this.warnings.push(...other.warnings);
  }
}

/** A label value that lists names: "a, b" -> ["a", "b"]. */
export function listValue(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** A container port from a label: 1-65535, or a message. */
export function portValue(text: string): number | string {
  const port = Number(text.trim());
  if (/^\s*[0-9]+\s*$/.test(text) && port >= 1 && port <= 65535) return port;
  return `expected a container port from 1 to 65535, found ${JSON.stringify(text)}`;
}
