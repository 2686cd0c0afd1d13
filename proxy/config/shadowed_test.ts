import assert from "node:assert/strict";
import { formatConfigWarning } from "./errors.ts";
import { loadConfigText } from "./load.ts";
import { FILE, MINIMAL, yaml } from "./test_helpers.ts";

const SERVICES = yaml`
  services:
    app: { servers: [http://app:3000] }
    new: { servers: [http://127.0.0.1:3000] }
`;

/** The warnings of a valid snippet, formatted as `check` prints them. */
async function warningsOf(routes: string): Promise<string[]> {
  const result = await loadConfigText(MINIMAL + SERVICES + routes, FILE);
  assert.ok(result.ok, JSON.stringify(result));
  return result.warnings.map(formatConfigWarning);
}

Deno.test("a route an earlier one of the same rank takes every request of is a warning with file:line:col", async () => {
  const warnings = await warningsOf(yaml`
    routes:
      - { name: welcome, service: welcome@internal }
      - name: demo-app
        match: { host: app.localhost }
        service: app
      - name: mine
        match: { host: App.localhost }
        service: new
  `);
  assert.deepEqual(warnings, [
    `${FILE}:12:5 routes[2]: warning: route "mine" can never match: route "demo-app" (line 9) ` +
    `comes first and takes the same requests (host "app.localhost", path "/"); give it another ` +
    `host or path, or remove one of them`,
  ]);
});

Deno.test("shadowing needs every host, the same path and rank, and the same or fewer entrypoints", async () => {
  assert.deepEqual(
    await warningsOf(yaml`
    routes:
      - { match: { host: a.localhost }, service: app }
      - { match: { host: [a.localhost, b.localhost] }, service: new }
      - { match: { host: a.localhost, path: /api }, service: new }
      - { match: { host: a.localhost, methods: GET }, service: new }
      - { match: { host: a.localhost, headers: { x-canary: "1" } }, service: new }
      - { match: { host: "*.localhost" }, service: new }
      - { entrypoints: [web], match: { host: c.localhost }, service: app }
      - { match: { host: c.localhost }, service: new }
      - { match: { path: /x }, service: app }
      - { match: { path: /x, methods: [GET] }, service: new }
  `),
    [],
  );
  const lines = (await warningsOf(yaml`
    routes:
      - { match: { host: a.localhost }, service: app }
      - { match: { host: b.localhost }, service: app }
      - { name: both, match: { host: [b.localhost, a.localhost] }, service: new }
      - { match: { host: c.localhost, methods: [GET, POST] }, service: app }
      - { name: get, match: { host: c.localhost, methods: [GET] }, service: new }
      - { match: { path: /x, headers: { x-a: true } }, service: app }
      - { name: header, match: { path: /x, headers: { x-a: "1" } }, service: new }
      - { match: { host: d.localhost }, service: app }
      - { name: web-only, entrypoints: [web], match: { host: d.localhost }, service: new }
  `)).map((w) => w.replace(/ comes first .*/, ""));
  assert.deepEqual(lines, [
    `${FILE}:10:5 routes[2]: warning: route "both" can never match: route "b.localhost/" (line 9), route "a.localhost/" (line 8)`,
    `${FILE}:12:5 routes[4]: warning: route "get" can never match: route "c.localhost/" (line 11)`,
    `${FILE}:14:5 routes[6]: warning: route "header" can never match: route "*/x" (line 13)`,
    `${FILE}:16:5 routes[8]: warning: route "web-only" can never match: route "d.localhost/" (line 15)`,
  ]);
});

Deno.test("check prints the warning with file:line:column and still says OK", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-shadowed-" });
  try {
    const file = `${dir}/gatehouse.yaml`;
    await Deno.writeTextFile(
      file,
      MINIMAL + SERVICES + yaml`
      routes:
        - { match: { host: app.localhost }, service: app }
        - { match: { host: app.localhost }, service: new }
    `,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "--check",
        "--config",
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assert.equal(out.code, 0);
    assert.match(
      text.decode(out.stderr),
      new RegExp(
        `^${file}:9:5 routes\\[1\\]: warning: route "app\\.localhost/#1" can never match`,
      ),
    );
    assert.match(text.decode(out.stdout), /gatehouse\.yaml: OK \(.*; 1 warning\(s\)\)\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a case-insensitive route shadows the same prefix in another case; a case-sensitive one does not", async () => {
  const lines = await warningsOf(yaml`
    routes:
      - { match: { path: /Admin, case_sensitive: false }, service: app }
      - { name: lower, match: { path: /admin }, service: new }
      - { match: { path: /api }, service: app }
      - { name: any-case, match: { path: /api, case_sensitive: false }, service: new }
      - { match: { path: /Api }, service: new }
  `);
  // "any-case" is not shadowed: "/api" before it takes only the lower-case paths.
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /route "lower" can never match: route "\*\/Admin"/);
  assert.match(lines[1], /route "\*\/Api" can never match: route "any-case"/);
});

Deno.test("case folding for shadowing is ASCII only, as the router's", async () => {
  // The router folds A-Z alone: "/À" in any case never takes "/à", so neither shadows.
  assert.deepEqual(
    await warningsOf(yaml`
    routes:
      - { match: { path: /À, case_sensitive: false }, service: app }
      - { match: { path: /à }, service: new }
  `),
    [],
  );
});
