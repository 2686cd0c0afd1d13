/**
 * The `gatehouse.*` labels of a container:
 *
 * ```text
 * gatehouse.enable=true                               opt in (docker.exposed_by_default: opt out)
 * gatehouse.docker.network=<network>                  the network to reach it on
 * gatehouse.http.routes.<name>.host=a.example,b.example
 * gatehouse.http.routes.<name>.path=/api              .methods .entrypoints .middlewares
 * gatehouse.http.routes.<name>.strip_prefix=true      .allow_encoded=slash .case_sensitive=false
 *                                                     .forward_path=as_sent
 *                                                     .service=<a service of labels or the file>
 * gatehouse.http.services.<name>.port=8000            default: the only port it exposes
 * gatehouse.http.services.<name>.scheme=https         .balancing .retries .host
 * gatehouse.http.services.<name>.health_check.path=/healthz   (.interval .timeout ...)
 * gatehouse.tcp.routes.<name>.entrypoints=db          .sni .passthrough .proxy_protocol .service
 * gatehouse.tcp.services.<name>.port=5432             .balancing .health_check.interval ...
 * gatehouse.udp.routes.<name>.entrypoints=dns         .service
 * gatehouse.udp.services.<name>.port=53
 * ```
 *
 * Values are read as the YAML file's would be (`true`, `8000`, `10s`); keys that list take
 * comma-separated values. The config's own validation checks every value afterwards and names
 * the label when one is wrong; here only the label keys, ports and schemes are checked.
 *
 * Tested by labels_test.ts.
 *
 * @module
 */
import { plainScalar } from "../config/env.ts";
import { didYouMean } from "../config/errors.ts";
import { Definition, type Kind, listValue, portValue } from "./definition.ts";

/** How a route key maps into the config item: its YAML path, and whether it lists. */
interface KeySpec {
  readonly path: string;
  readonly list?: boolean;
}

const ROUTE_KEYS: Readonly<Record<Kind, Readonly<Record<string, KeySpec>>>> = {
  http: {
    host: { path: "match.host", list: true },
    path: { path: "match.path" },
    case_sensitive: { path: "match.case_sensitive" },
    methods: { path: "match.methods", list: true },
    entrypoints: { path: "entrypoints", list: true },
    middlewares: { path: "middlewares", list: true },
    strip_prefix: { path: "strip_prefix" },
    forward_path: { path: "forward_path" },
    allow_encoded: { path: "allow_encoded", list: true },
    service: { path: "service" },
  },
  tcp: {
    entrypoints: { path: "entrypoints", list: true },
    sni: { path: "sni", list: true },
    passthrough: { path: "passthrough" },
    proxy_protocol: { path: "proxy_protocol" },
    service: { path: "service" },
  },
  udp: {
    entrypoints: { path: "entrypoints", list: true },
    service: { path: "service" },
  },
};

const CHECKS = ["interval", "timeout", "healthy_threshold", "unhealthy_threshold"];
const SERVICE_KEYS: Readonly<Record<Kind, readonly string[]>> = {
  http: [
    "port",
    "scheme",
    "balancing",
    "retries",
    "host",
    ...["path", "expect_status", ...CHECKS].map((k) => `health_check.${k}`),
  ],
  tcp: ["port", "balancing", "retries", ...CHECKS.map((k) => `health_check.${k}`)],
  udp: ["port", "balancing"],
};

/** The config section of each kind of route. */
export const ROUTE_SECTION = { http: "routes", tcp: "tcp_routes", udp: "udp_routes" } as const;

/** "true"/"false" (as YAML reads them), or undefined with an error recorded. */
export function enableValue(def: Definition, label: string, text: string): boolean | undefined {
  const value = plainScalar(text);
  if (typeof value === "boolean") return value;
  def.error(label, `expected true or false, found ${JSON.stringify(text)}`);
  return undefined;
}

function routeLabel(def: Definition, kind: Kind, name: string, key: string, text: string) {
  const prefix = `gatehouse.${kind}.routes.${name}`;
  const label = `${prefix}.${key}`;
  const spec = ROUTE_KEYS[kind][key];
  if (spec === undefined) {
    def.error(
      label,
      `unknown key ${JSON.stringify(key)}${didYouMean(key, Object.keys(ROUTE_KEYS[kind]))} ` +
        `(known: ${Object.keys(ROUTE_KEYS[kind]).join(", ")})`,
    );
    return;
  }
  const route = def.route(kind, name, prefix);
  if (key === "service") {
    route.service = { value: text.trim(), label };
    return;
  }
  const value = spec.list ? listValue(text) : plainScalar(text);
  route.fields.set(spec.path, { value, label });
}

function serviceLabel(def: Definition, kind: Kind, name: string, key: string, text: string) {
  const prefix = `gatehouse.${kind}.services.${name}`;
  const label = `${prefix}.${key}`;
  const known = SERVICE_KEYS[kind];
  if (!known.includes(key)) {
    def.error(
      label,
      `unknown key ${JSON.stringify(key)}${didYouMean(key, known)} (known: ${known.join(", ")})`,
    );
    return;
  }
  const service = def.service(kind, name, prefix);
  if (key === "port") {
    const port = portValue(text);
    if (typeof port === "string") def.error(label, port);
    else service.port = { value: port, label };
  } else if (key === "scheme") {
    const scheme = text.trim().toLowerCase();
    if (scheme === "http" || scheme === "https") service.scheme = { value: scheme, label };
    else def.error(label, `expected "http" or "https", found ${JSON.stringify(text)}`);
  } else {
    service.fields.set(key, { value: plainScalar(text), label });
  }
}

/** Reads the gatehouse.* labels of one container. */
export function parseGatehouseLabels(labels: Readonly<Record<string, string>>): Definition {
  const def = new Definition();
  for (const [label, text] of Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) {
    if (!label.startsWith("gatehouse.")) continue;
    const parts = label.split(".");
    if (label === "gatehouse.enable") {
      def.enable = enableValue(def, label, text);
      def.enableLabel = label;
      continue;
    }
    if (label === "gatehouse.docker.network") {
      def.network = { value: text.trim(), label };
      continue;
    }
    const [, kind, section, name, ...rest] = parts;
    const key = rest.join(".");
    const kinds = ["http", "tcp", "udp"];
    if (!kinds.includes(kind) || !["routes", "services"].includes(section) || !name || !key) {
      def.error(
        label,
        `unknown label: write gatehouse.enable, gatehouse.docker.network, or ` +
          `gatehouse.<http|tcp|udp>.<routes|services>.<name>.<key>`,
      );
      continue;
    }
    if (section === "routes") routeLabel(def, kind as Kind, name, key, text);
    else serviceLabel(def, kind as Kind, name, key, text);
  }
  return def;
}
