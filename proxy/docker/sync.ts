/**
 * From the list of running containers to config fragments: which containers take part (running,
 * not unhealthy, not being stopped, enabled by their labels), how replicas group, and whose
 * labels define each group (its newest replica that can be reached).
 *
 * Tested by labels_test.ts and traefik_labels_test.ts.
 *
 * @module
 */
import type { ConfigFragment } from "../config/fragments.ts";
import type { DockerSettings } from "../config/types.ts";
import { addressOf, type ContainerInfo, groupReplicas } from "./containers.ts";
import type { Definition } from "./definition.ts";
import { groupFragments, isEnabled } from "./fragment.ts";
import { parseGatehouseLabels } from "./labels.ts";
import { parseTraefikLabels } from "./traefik_labels.ts";

/** Everything the labels of `c` define: gatehouse.*, then traefik.* when that is on. */
export function definitionOf(c: ContainerInfo, settings: DockerSettings): Definition {
  const def = parseGatehouseLabels(c.labels);
  if (settings.traefikLabels) def.merge(parseTraefikLabels(c.labels));
  return def;
}

/**
 * Whether `c` can take traffic: running, its health check (if any) not failing, and not told
 * to stop. A container whose health is still "starting" takes part: its own check runs only
 * after its first interval, and Gatehouse's passive health ejects a server that fails.
 */
export function serving(c: ContainerInfo, stopping: ReadonlySet<string>): boolean {
  return c.state === "running" && c.health !== "unhealthy" && !stopping.has(c.id);
}

/** One group as the provider routes it, for /status. */
export interface GroupSummary {
  readonly group: string;
  readonly containers: readonly string[];
}

/** The fragments of every enabled group among `containers`, oldest group first. */
export function fragmentsFor(
  containers: readonly ContainerInfo[],
  settings: DockerSettings,
  file: string,
  stopping: ReadonlySet<string> = new Set(),
): { fragments: ConfigFragment[]; groups: GroupSummary[] } {
  const fragments: ConfigFragment[] = [];
  const groups: GroupSummary[] = [];
  for (const group of groupReplicas(containers.filter((c) => serving(c, stopping)))) {
    const newest = group.replicas.at(-1)!;
    const first = definitionOf(newest, settings);
    if (!isEnabled(first, settings)) continue;
    const network = (first.network?.value as string | undefined) ?? settings.network;
    const definer = group.replicas.findLast((c) => "host" in addressOf(c, network)) ?? newest;
    const definition = definer === newest ? first : definitionOf(definer, settings);
    fragments.push(...groupFragments({ group, definer, definition, settings, file }));
    groups.push({ group: group.key, containers: group.replicas.map((c) => c.name) });
  }
  return { fragments, groups };
}
