/**
 * The common `traefik.*` labels, read when `docker.traefik_labels` is on, so that a compose file
 * written for Traefik works unchanged:
 *
 * ```text
 * traefik.enable=true                        traefik.docker.network=<network>
 * traefik.http.routers.<r>.rule=Host(`a`) && PathPrefix(`/api`)     (traefik_rule.ts)
 * traefik.http.routers.<r>.entrypoints=websecure   .service=<s>   .middlewares=<stripprefix>,...
 * traefik.http.middlewares.<m>.stripprefix.prefixes=/api     .encodedcharacters.allowencodedslash
 * traefik.http.services.<s>.loadbalancer.server.port=8000          .server.scheme
 * traefik.http.services.<s>.loadbalancer.healthcheck.path=/health  .interval .timeout
 * traefik.http.services.<s>.loadbalancer.passhostheader=false
 * traefik.tcp.routers.<r>.rule=HostSNI(`*`)  .entrypoints .service .tls.passthrough
 * traefik.tcp|udp.services.<s>.loadbalancer.server.port
 * traefik.udp.routers.<r>.entrypoints        .service
 * ```
 *
 * A `stripprefix` middleware whose prefix is the router's PathPrefix becomes `strip_prefix`, an
 * `encodedcharacters` one the route's `allow_encoded`.
 * Anything else gets one warning per label. A router that uses something that changes who may
 * reach the app or what it receives (another middleware, a rule that cannot be translated) is
 * left out rather than served without it; settings that only concern TLS certificates or
 * priorities are warned about and the router kept.
 *
 * Tested by traefik_labels_test.ts.
 *
 * @module
 */
import { plainScalar } from "../config/env.ts";
import type { EncodedChar } from "../config/types.ts";
import { Definition, type Kind, listValue, portValue } from "./definition.ts";
import { enableValue } from "./labels.ts";
import { parseRule, RuleSyntaxError, translateHttpRule, translateTcpRule } from "./traefik_rule.ts";

/** The labels under one router, service or middleware: key after the name -> value and label. */
type Entries = Map<string, { text: string; label: string }>;

/** `traefik.<kind>.<section>.<name>.<key>` labels, collected by kind, section and name. */
class Collected {
  readonly #all = new Map<string, Map<string, Entries>>();
  /** Labels read by the translation; the others are warned about. */
  readonly used = new Set<string>();

  add(kind: string, section: string, name: string, key: string, text: string, label: string) {
    const id = `${kind}.${section}`;
    const byName = this.#all.get(id) ?? new Map<string, Entries>();
    const entries = byName.get(name) ?? new Map();
    entries.set(key, { text, label });
    byName.set(name, entries);
    this.#all.set(id, byName);
  }

  of(kind: string, section: string): Map<string, Entries> {
    return this.#all.get(`${kind}.${section}`) ?? new Map();
  }

  /** The entry `key` of one item, marked as read. */
  take(entries: Entries, key: string): { text: string; label: string } | undefined {
    const entry = entries.get(key);
    if (entry) this.used.add(entry.label);
    return entry;
  }

  /** Marks every label of one item as read (it was left out with one warning). */
  takeAll(entries: Entries): void {
    for (const entry of entries.values()) this.used.add(entry.label);
  }

  *labels(): Iterable<string> {
    for (const byName of this.#all.values()) {
      for (const entries of byName.values()) for (const e of entries.values()) yield e.label;
    }
  }
}

/** A service reference without Traefik's provider suffix: "web@docker" -> "web". */
function bare(name: string): string {
  return name.replace(/@(docker|file)$/, "");
}

/** Router keys that do not change who may reach the app: warned about, the router kept. */
const IGNORED_ROUTER_KEYS =
  /^(priority|tls\.certresolver|tls\.domains.*|tls\.options|observability\..*)$/;

function httpRouter(def: Definition, all: Collected, name: string, entries: Entries): void {
  const prefix = `traefik.http.routers.${name}`;
  const rule = all.take(entries, "rule");
  if (rule === undefined) {
    all.takeAll(entries);
    def.warn(
      prefix,
      `router "${name}" has no rule (Traefik's default rule is not translated): ` +
        `add ${prefix}.rule=Host(\`...\`); the router is left out`,
    );
    return;
  }
  let matches;
  try {
    matches = translateHttpRule(parseRule(rule.text));
  } catch (err) {
    if (!(err instanceof RuleSyntaxError)) throw err;
    matches = err.message;
  }
  if (typeof matches === "string") {
    all.takeAll(entries);
    def.warn(rule.label, `not translated: ${matches}; the router is left out`);
    return;
  }
  const entrypoints = all.take(entries, "entrypoints");
  const service = all.take(entries, "service");
  const tls = all.take(entries, "tls");
  if (tls && plainScalar(tls.text) !== true && plainScalar(tls.text) !== false) {
    def.warn(tls.label, `expected true or false; TLS comes from the entrypoint either way`);
  }
  const middlewares = middlewaresOf(def, all, entries, matches.map((m) => m.path));
  if (middlewares === null) {
    all.takeAll(entries);
    return;
  }
  for (const [key, entry] of entries) {
    if (all.used.has(entry.label)) continue;
    all.used.add(entry.label);
    const why = IGNORED_ROUTER_KEYS.test(key)
      ? "Gatehouse ranks routes by how specific they are and takes certificates from the " +
        "entrypoint's tls settings"
      : "unknown to Gatehouse";
    def.warn(entry.label, `not translated (${why}); the router is kept without it`);
  }
  matches.forEach((match, i) => {
    const route = def.route("http", i === 0 ? name : `${name}-${i + 1}`, prefix);
    route.fields.set("match.host", { value: match.hosts, label: rule.label });
    route.fields.set("match.path", { value: match.path, label: rule.label });
    if (match.methods.length > 0) {
      route.fields.set("match.methods", { value: match.methods, label: rule.label });
    }
    if (match.headers.length > 0) {
      route.fields.set("match.headers", {
        value: Object.fromEntries(match.headers),
        label: rule.label,
      });
    }
    if (entrypoints) {
      route.fields.set("entrypoints", {
        value: listValue(entrypoints.text),
        label: entrypoints.label,
      });
    }
    if (middlewares.strip) route.fields.set("strip_prefix", middlewares.strip);
    if (middlewares.encoded) route.fields.set("allow_encoded", middlewares.encoded);
    if (middlewares.names) route.fields.set("middlewares", middlewares.names);
    if (service) route.service = { value: bare(service.text.trim()), label: service.label };
  });
}

/** A setting translated from labels, and the label it came from (for errors). */
type Field<T> = { value: T; label: string };

/**
 * Traefik's `encodedCharacters` options (v3.6, all false by default: Gatehouse's defaults) as
 * `allow_encoded` names; null for the encoded null, which Gatehouse refuses in every path.
 */
const ENCODED_OPTIONS: ReadonlyMap<string, EncodedChar | null> = new Map([
  ["encodedcharacters.allowencodedslash", "slash"],
  ["encodedcharacters.allowencodedbackslash", "backslash"],
  ["encodedcharacters.allowencodedsemicolon", "semicolon"],
  ["encodedcharacters.allowencodedpercent", "percent"],
  ["encodedcharacters.allowencodedquestionmark", "question_mark"],
  ["encodedcharacters.allowencodedhash", "hash"],
  ["encodedcharacters.allowencodednullcharacter", null],
]);

/**
 * The router's middlewares as Gatehouse settings: a stripprefix of the route's own path becomes
 * strip_prefix, an encodedcharacters middleware allow_encoded, names defined elsewhere pass on
 * when Gatehouse has middlewares. Null (the router left out, with a warning) when one cannot be
 * translated.
 */
function middlewaresOf(
  def: Definition,
  all: Collected,
  entries: Entries,
  paths: readonly string[],
): { strip?: Field<boolean>; encoded?: Field<EncodedChar[]>; names?: Field<string[]> } | null {
  const entry = all.take(entries, "middlewares");
  if (entry === undefined) return {};
  const defined = all.of("http", "middlewares");
  const out: NonNullable<ReturnType<typeof middlewaresOf>> = {};
  const names: string[] = [];
  const encoded = new Set<EncodedChar>();
  for (const ref of listValue(entry.text)) {
    const name = bare(ref);
    const labels = ref.endsWith("@file") ? undefined : defined.get(name);
    if (labels === undefined) {
      names.push(name);
      continue;
    }
    const keys = [...labels.keys()];
    if (keys.every((k) => ENCODED_OPTIONS.has(k.toLowerCase()))) {
      for (const key of keys) {
        const option = all.take(labels, key)!;
        if (plainScalar(option.text) !== true) continue;
        const allowed = ENCODED_OPTIONS.get(key.toLowerCase())!;
        if (allowed === null) {
          def.warn(
            option.label,
            "not translated: Gatehouse refuses an encoded null (%00) in every path; the " +
              "router is kept without it",
          );
        } else encoded.add(allowed);
      }
      continue;
    }
    const prefixes = all.take(labels, "stripprefix.prefixes");
    const strip = prefixes ? listValue(prefixes.text).map((p) => p.replace(/\/+$/, "") || "/") : [];
    const only = [...labels.keys()].every((k) => k === "stripprefix.prefixes");
    if (!only || strip.length !== 1 || !paths.every((p) => p === strip[0])) {
      def.warn(
        entry.label,
        `not translated: middleware "${ref}" (only a stripprefix of the router's own ` +
          `PathPrefix becomes strip_prefix, and encodedcharacters allow_encoded); the router ` +
          `is left out`,
      );
      return null;
    }
    out.strip = { value: true, label: prefixes!.label };
  }
  if (names.length > 0) out.names = { value: names, label: entry.label };
  if (encoded.size > 0) out.encoded = { value: [...encoded], label: entry.label };
  return out;
}

function streamRouter(
  def: Definition,
  all: Collected,
  kind: "tcp" | "udp",
  name: string,
  entries: Entries,
) {
  const prefix = `traefik.${kind}.routers.${name}`;
  const route = def.route(kind, name, prefix);
  all.takeAll(entries);
  for (const [key, entry] of entries) {
    if (key === "entrypoints") {
      route.fields.set("entrypoints", { value: listValue(entry.text), label: entry.label });
    } else if (key === "service") {
      route.service = { value: bare(entry.text.trim()), label: entry.label };
    } else if (kind === "tcp" && key === "rule") {
      let sni;
      try {
        sni = translateTcpRule(parseRule(entry.text));
      } catch (err) {
        if (!(err instanceof RuleSyntaxError)) throw err;
        sni = { problem: err.message };
      }
      if ("problem" in sni) {
        def.warn(entry.label, `not translated: ${sni.problem}; the router is left out`);
        def.routes.splice(def.routes.indexOf(route), 1);
        return;
      }
      if (sni.length > 0) route.fields.set("sni", { value: sni, label: entry.label });
    } else if (kind === "tcp" && key === "tls.passthrough") {
      route.fields.set("passthrough", { value: plainScalar(entry.text), label: entry.label });
    } else if (!(kind === "tcp" && key === "tls")) {
      def.warn(entry.label, `not translated (unknown to Gatehouse); the router is kept without it`);
    }
  }
}

function service(def: Definition, all: Collected, kind: Kind, name: string, entries: Entries) {
  const prefix = `traefik.${kind}.services.${name}`;
  const svc = def.service(kind, name, prefix, `${prefix}.loadbalancer.server.port`);
  for (const [key, entry] of entries) {
    all.used.add(entry.label);
    const { text, label } = entry;
    if (key === "loadbalancer.server.port") {
      const port = portValue(text);
      if (typeof port === "string") def.error(label, port);
      else svc.port = { value: port, label };
    } else if (kind === "http" && key === "loadbalancer.server.scheme") {
      const scheme = text.trim().toLowerCase();
      if (scheme === "http" || scheme === "https") svc.scheme = { value: scheme, label };
      else def.warn(label, `not translated: scheme ${JSON.stringify(text)} (http or https)`);
    } else if (
      kind === "http" && /^loadbalancer\.healthcheck\.(path|interval|timeout)$/.test(key)
    ) {
      svc.fields.set(`health_check.${key.split(".")[2]}`, { value: plainScalar(text), label });
    } else if (kind === "http" && key === "loadbalancer.passhostheader") {
      svc.fields.set("host", {
        value: plainScalar(text) === false ? "upstream" : "preserve",
        label,
      });
    } else {
      def.warn(label, `not translated (unknown to Gatehouse); the service is kept without it`);
    }
  }
}

/** Reads the traefik.* labels of one container. */
export function parseTraefikLabels(labels: Readonly<Record<string, string>>): Definition {
  const def = new Definition();
  const all = new Collected();
  for (const [label, text] of Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) {
    if (!label.startsWith("traefik.")) continue;
    if (label === "traefik.enable") {
      def.enable = enableValue(def, label, text);
      def.enableLabel = label;
      continue;
    }
    if (label === "traefik.docker.network") {
      def.network = { value: text.trim(), label };
      continue;
    }
    const [, kind, section, name, ...rest] = label.split(".");
    const sections = ["routers", "services", "middlewares"];
    if (
      !["http", "tcp", "udp"].includes(kind) || !sections.includes(section) || !name || !rest.length
    ) {
      def.warn(label, "not translated (unknown to Gatehouse)");
      continue;
    }
    all.add(kind, section, name, rest.join("."), text, label);
  }
  for (const [name, entries] of all.of("http", "routers")) httpRouter(def, all, name, entries);
  for (const kind of ["tcp", "udp"] as const) {
    for (const [name, entries] of all.of(kind, "routers")) {
      streamRouter(def, all, kind, name, entries);
    }
  }
  for (const kind of ["http", "tcp", "udp"] as const) {
    for (const [name, entries] of all.of(kind, "services")) service(def, all, kind, name, entries);
  }
  for (const label of all.labels()) {
    if (!all.used.has(label)) {
      def.warn(
        label,
        "not translated (Traefik middlewares are not read, except a stripprefix " +
          "of a router's own path and encodedcharacters)",
      );
    }
  }
  return def;
}
