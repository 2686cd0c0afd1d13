/**
 * Parses Prometheus exposition text with the reference Python client's parser
 * (`prometheus_client.parser`, Debian package python3-prometheus-client), so tests check what a
 * real scraper would read rather than what a regex thinks.
 *
 * @module
 */

/** One sample: metric name (with _bucket/_count/_sum/_total suffix), labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The Debian python, which has the Debian python3-* packages (not a pyenv shim). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        v = s.value
        out.append({"name": s.name, "labels": s.labels,
                    "value": None if isinstance(v, float) and math.isnan(v) else v})
print(json.dumps(out))
`;

/** Every sample in `text`; throws when the parser refuses it. */
export async function parseExposition(text: string): Promise<Sample[]> {
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: ["-c", SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(`Cannot parse the exposition text: ${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** The value of the one sample named `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  if (found.length > 1) throw new Error(`More than one sample ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Identity of every series: name and sorted labels. */
export function seriesKeys(samples: readonly Sample[]): Set<string> {
  return new Set(samples.map((s) => {
    const labels = Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b));
    return `${s.name}{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
  }));
}
