/**
 * The shipped Grafana dashboard queries only series a live Gatehouse exposes, with labels those
 * series carry.
 */
import assert from "node:assert/strict";
import { startGatehouse } from "../../proxy/testing/gatehouse.ts";
import { parseExposition } from "../../proxy/testing/prometheus.ts";
import { connect, yaml } from "../../proxy/testing/proxy.ts";
import { readResponse } from "../../proxy/testing/wire.ts";
import { httpUpstream } from "../../proxy/testing/servers.ts";

interface Panel {
  title: string;
  targets: { expr: string }[];
}

const dashboard = JSON.parse(
  await Deno.readTextFile(new URL("./gatehouse.json", import.meta.url)),
) as { panels: Panel[]; templating: { list: { query?: string }[] } };

/** Label names Prometheus itself adds, or Grafana variables stand for. */
const SCRAPE_LABELS = new Set(["job", "instance", "le"]);

Deno.test("every dashboard query uses series and labels a live scrape exposes", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      routes:
        - { name: app, service: app }
      services:
        app: { servers: [${up.url}] }
      admin: { address: "127.0.0.1:0" }
    `,
    false,
  );
  await (await fetch(`http://127.0.0.1:${gh.port()}/`)).text();
  // One refused request, so that the rejections panel's labels are checked on real samples.
  using bad = await connect(gh.port());
  await bad.send("GET / HTTP/1.1\r\n\r\n");
  assert.equal((await readResponse(bad.reader)).status, 400);
  const text = await (await fetch(gh.admin("/metrics"))).text();
  const families = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1], m[2]);
  const samples = await parseExposition(text);
  const labelsOf = (name: string) => {
    const seen = samples.filter((s) => s.name === name);
    return seen.length === 0 ? null : new Set(seen.flatMap((s) => Object.keys(s.labels)));
  };

  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr }))),
    ...dashboard.templating.list.filter((v) => v.query?.includes("label_values"))
      .map((v) => ({ where: "variable", expr: v.query! })),
  ];
  assert.ok(queries.length >= 15);
  for (const { where, expr } of queries) {
    const names = [...expr.matchAll(/\b((?:gatehouse|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]);
    assert.ok(names.length > 0, `${where}: no Gatehouse series in ${expr}`);
    for (const name of names) {
      const family = name.replace(/_(bucket|sum|count)$/, "");
      const type = families.get(name) ?? families.get(family);
      assert.ok(type !== undefined, `${where}: ${name} is not exposed`);
      if (name !== family) assert.equal(type, "histogram", `${where}: ${name}`);
      const labels = labelsOf(name);
      if (labels === null) continue;
      const selector = expr.match(new RegExp(`${name}\\{([^}]*)\\}`))?.[1] ?? "";
      const used = [
        ...[...selector.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]),
        ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1].split(/,\s*/)),
      ];
      for (const label of used) {
        if (SCRAPE_LABELS.has(label) || !expr.includes(name)) continue;
        const carriers = names.filter((n) => labelsOf(n)?.has(label));
        assert.ok(
          labels.has(label) || carriers.length > 0,
          `${where}: label ${label} is on none of ${names.join(", ")}`,
        );
      }
    }
  }
});
