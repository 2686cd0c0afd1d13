import assert from "node:assert/strict";
import { join } from "node:path";
import { formatConfigError, loadConfigText } from "../../config/mod.ts";
import { startProxy, type TestProxy, yaml } from "../../testing/proxy.ts";
import { startGatehouse } from "../../testing/gatehouse.ts";
import { closedPort, httpUpstream, waitFor } from "../../testing/servers.ts";
import { PROTOCOLS, request } from "./test_helpers.ts";

/** An app answering /status/<n> with status n, body "app says <n>" and an ETag. */
function statusApp() {
  return httpUpstream((req) => {
    const status = Number(new URL(req.url).pathname.split("/")[2] ?? 200);
    return new Response(`app says ${status}`, {
      status,
      headers: { etag: `"v1"`, "x-app": "yes", "content-type": "text/plain" },
    });
  });
}

/** A proxy with a `pages` middleware (`settings`) on the route to `app`, and a route to nowhere. */
async function pagesProxy(app: string, settings: string, services = ""): Promise<TestProxy> {
  const gw = await startProxy(
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    middlewares:
      pages: { errors: { ${settings} } }
    routes:
      - { service: app, middlewares: [pages] }
      - { match: { path: /gone }, service: nowhere, middlewares: [pages] }
    services:
      app: { servers: [${app}] }
      nowhere: { servers: ["http://127.0.0.1:${closedPort()}"] }
  ` + services,
  );
  return gw;
}

for (const version of PROTOCOLS) {
  Deno.test(`errors: a page file for the upstream's errors and Gatehouse's own (HTTP/${version})`, async () => {
    await using app = statusApp();
    const dir = await Deno.makeTempDir({ prefix: "gatehouse-pages-" });
    try {
      const file = join(dir, "error.html");
      await Deno.writeTextFile(file, "<h1>{status} {reason}</h1>\n");
      await using gw = await pagesProxy(app.url, `status: ["500-599", 404], file: ${file}`);

      const down = await request(gw, version, "/status/503");
      assert.equal(down.status, 503);
      assert.equal(down.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(down.headers.get("etag"), null, "the original body's ETag went with it");
      assert.equal(down.headers.get("x-app"), "yes", "other fields are kept");
      assert.equal(await down.text(), "<h1>503 Service Unavailable</h1>\n");

      const missing = await request(gw, version, "/status/404");
      assert.equal(missing.status, 404);
      assert.equal(await missing.text(), "<h1>404 Not Found</h1>\n");

      for (const passes of ["/status/200", "/status/403"]) {
        const res = await request(gw, version, passes);
        assert.equal(await res.text(), `app says ${passes.slice(8)}`);
      }

      const own = await request(gw, version, "/gone");
      assert.equal(own.status, 502);
      assert.equal(await own.text(), "<h1>502 Bad Gateway</h1>\n");

      const head = await request(gw, version, "/status/500", { method: "HEAD" });
      assert.equal(head.status, 500);
      assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("errors: pages from a service, streamed; its failure keeps the original body", async () => {
  await using app = statusApp();
  await using pageService = httpUpstream((req) => {
    const path = new URL(req.url).pathname;
    return path === "/pages/404.html"
      ? new Response("no page for this one", { status: 404 })
      : new Response(`<p>custom page for ${path}</p>`, {
        headers: { "content-type": "text/html" },
      });
  });
  await using gw = await pagesProxy(
    app.url,
    `status: "400-599", service: errpages, path: "/pages/{status}.html"`,
    `  errpages: { servers: [${pageService.url}] }\n`,
  );
  for (const version of PROTOCOLS) {
    const res = await request(gw, version, "/status/500");
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await res.text(), "<p>custom page for /pages/500.html</p>");
    const own = await request(gw, version, "/gone");
    assert.equal(own.status, 502);
    assert.equal(await own.text(), "<p>custom page for /pages/502.html</p>");
    // The page service has no page for 404: the app's own body goes out.
    const fallback = await request(gw, version, "/status/404");
    assert.equal(fallback.status, 404);
    assert.equal(await fallback.text(), "app says 404");
  }
  assert.ok(pageService.requests.every((r) => r.method === "GET"));
});

Deno.test("errors: a page service that is down keeps the original body", async () => {
  await using app = statusApp();
  await using gw = await pagesProxy(
    app.url,
    `status: 500, service: errpages`,
    `  errpages: { servers: ["http://127.0.0.1:${closedPort()}"] }\n`,
  );
  const res = await fetch(gw.url("/status/500"));
  assert.equal(res.status, 500);
  assert.equal(await res.text(), "app says 500");
});

Deno.test("errors config errors: not an error status, no source or two, a missing file", async () => {
  const errors = async (settings: string) => {
    const loaded = await loadConfigText(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      middlewares:
        pages: { errors: { ${settings} } }
      routes: [{ service: app, middlewares: [pages] }]
      services:
        app: { servers: ["http://127.0.0.1:1"] }
    `,
      "/tmp/gatehouse.yaml",
    );
    assert.equal(loaded.ok, false);
    return loaded.ok ? [] : loaded.errors.map(formatConfigError);
  };
  const [redirects] = await errors(`status: ["300-399"], service: app`);
  assert.match(redirects, /status 300-399 is not an error: give statuses from 400 to 599/);
  const [both] = await errors(`status: 500, service: app, file: page.html`);
  assert.match(both, /give either "file" or "service"/);
  const [none] = await errors(`status: 500`);
  assert.match(none, /give either "file" or "service"/);
  const [missing] = await errors(`status: 500, file: nope.html`);
  assert.match(missing, /Cannot read the error page "\/tmp\/nope\.html": file not found/);
  const [typo] = await errors(`status: 500, service: ap`);
  assert.match(typo, /unknown service "ap" \(did you mean "app"\?\)/);
});

Deno.test("errors: a change to the page file reloads the config and the new page goes out", async () => {
  await using app = statusApp();
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-pages-" });
  try {
    const file = join(dir, "oops.html");
    await Deno.writeTextFile(file, "<p>first page</p>");
    await using gh = await startGatehouse(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      admin: { address: off }
      middlewares:
        pages: { errors: { status: 500, file: ${file} } }
      routes: [{ service: app, middlewares: [pages] }]
      services: { app: { servers: [${app.url}] } }
    `,
      true,
    );
    const page = async () => await (await fetch(`http://127.0.0.1:${gh.port()}/status/500`)).text();
    assert.equal(await page(), "<p>first page</p>");
    await Deno.writeTextFile(file, "<p>second page</p>");
    await waitFor(async () => await page() === "<p>second page</p>", "the new page");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
