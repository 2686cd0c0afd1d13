/**
 * Mutated container labels, Gatehouse's and Traefik's (seeded, reproducible): whatever a container
 * says, the config file still loads, a container with bad labels is left out with errors that name
 * it and one of its labels, and the other containers keep their routes.
 */
import assert from "node:assert/strict";
import { yaml } from "../config/test_helpers.ts";
import { formatConfigError } from "../config/errors.ts";
import { container, loadWith, settings } from "./test_helpers.ts";
import { below, mutate, pick, seeded } from "../testing/mutate.ts";

const FILE = yaml`
  entrypoints:
    web: { address: ":8080" }
    websecure: { address: ":8443" }
    db: { address: ":5432", protocol: tcp }
    dns: { address: ":53", protocol: udp }
  tcp_routes: [{ name: base-db, entrypoints: [db], service: base-db }]
  udp_routes: [{ name: base-dns, entrypoints: [dns], service: base-dns }]
  services:
    base-db: { servers: ["tcp://db:5432"] }
    base-dns: { servers: ["udp://dns:53"] }
  docker: { enabled: true }
`;

/** Label sets as lines `key=value`, so that mutations reach keys, values and their split. */
const SEEDS: readonly string[] = [
  [
    "gatehouse.enable=true",
    "gatehouse.http.routes.shop.host=shop.test",
    "gatehouse.http.routes.shop.path=/api",
    "gatehouse.http.routes.shop.middlewares=strip",
    "gatehouse.http.services.shop.port=8000",
    "gatehouse.http.middlewares.strip.strip_prefix=/api",
  ].join("\n"),
  [
    "gatehouse.enable=true",
    "gatehouse.tcp.routes.pg.entrypoints=db",
    "gatehouse.tcp.services.pg.port=5432",
    "gatehouse.udp.routes.dns.entrypoints=dns",
    "gatehouse.docker.network=apps",
  ].join("\n"),
  [
    "traefik.enable=true",
    "traefik.http.routers.who.rule=Host(`who.test`) && PathPrefix(`/api`)",
    "traefik.http.routers.who.entrypoints=websecure",
    "traefik.http.routers.who.middlewares=strip@docker",
    "traefik.http.middlewares.strip.stripprefix.prefixes=/api",
    "traefik.http.services.who.loadbalancer.server.port=8000",
    "traefik.tcp.routers.pg.rule=HostSNI(`*`)",
  ].join("\n"),
];

const WORDS: readonly string[] = [
  ...["=", ".", "\n", " ", "", "0", "-1", "65536", "true", "false", "*", "@docker", "`", "(", ")"],
  ...["http", "tcp", "udp", "routes", "services", "middlewares", "routers", "rule", "port"],
  ...["Host(`a`)", "&&", "||", "!", "/", "../", "\u00e9", "x".repeat(100)],
];

/** The labels of `text`: one per line, split at the first "=". */
function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) labels[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return labels;
}

Deno.test("mutated container labels: the file still loads, a bad container alone is left out, named", async () => {
  const rng = seeded(0x1abe1);
  const good = container("good-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.good.host": "good.test",
  });
  const failures: string[] = [];
  for (let k = 0; k < 400; k++) {
    const labels = labelsOf(mutate(rng, SEEDS, WORDS));
    const name = `fuzzed-${k}`;
    const fuzzed = container(name, labels, below(rng, 2) ? { ports: [] } : {});
    const docker = settings({ traefikLabels: pick(rng, [true, false]), exposedByDefault: false });
    let result;
    try {
      result = await loadWith(FILE, [fuzzed, good], docker);
    } catch (err) {
      failures.push(
        `case ${k}: threw ${err instanceof Error ? err.stack : err}: ${JSON.stringify(labels)}`,
      );
      continue;
    }
    const where = `case ${k} ${JSON.stringify(labels)}`;
    if (!result.ok) {
      failures.push(`${where}: the file did not load: ${result.errors.map(formatConfigError)}`);
      continue;
    }
    if (!result.config.routes.some((r) => r.name === "good")) {
      failures.push(`${where}: the good container's route is gone`);
    }
    for (const e of result.skipped) {
      const shown = formatConfigError(e);
      if (!shown.startsWith(`container "${name}" label "`)) {
        failures.push(`${where}: an error that names no label of it: ${shown}`);
      }
    }
  }
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failing cases`);
});
