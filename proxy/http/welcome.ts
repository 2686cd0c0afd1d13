/**
 * The built-in `welcome@internal` service: a page saying Gatehouse runs and how to add a route.
 * Its example uses a host name no route of the running config matches yet, so following it
 * adds a route that can win (and the development certificate gains that name on reload).
 */
import type { Config } from "../config/types.ts";
import { HeaderList } from "../proto/header_list.ts";
import type { OutgoingResponse } from "../proto/message.ts";

/** `myapp.localhost`, else `myapp2.localhost`, ...: the first name no route of `config` lists. */
export function unroutedExampleHost(config: Config): string {
  const routed = new Set(config.routes.flatMap((route) => route.match.hosts));
  for (let i = 1;; i++) {
    const host = `myapp${i === 1 ? "" : i}.localhost`;
    if (!routed.has(host)) return host;
  }
}

function page(config: Config): string {
  const host = unroutedExampleHost(config);
  const name = host.slice(0, host.indexOf("."));
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse is running</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem}
code,pre{background:#f3f3f3;border-radius:4px;padding:.1rem .3rem}pre{padding:1rem}</style></head>
<body>
<h1>Gatehouse is running</h1>
<p>This page is served by the built-in <code>welcome@internal</code> service because no other
route matched this request.</p>
<h2>Put your app behind it</h2>
<p>Edit <code>${escapeHtml(config.source)}</code>: add a route and a service, save, and the change
applies without a restart. With an app listening on port 3000:</p>
<pre>routes:
  - name: ${name}
    match:
      host: ${host}
    service: ${name}

services:
  ${name}:
    servers:
      - http://127.0.0.1:3000</pre>
<p>Then open <code>https://${host}</code> on the HTTPS port of this page. Check a file before
you rely on it with <code>deno task check --config FILE</code>.</p>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const encoder = new TextEncoder();

export function welcomeResponse(config: Config): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", "text/html; charset=utf-8");
  headers.appendLower("cache-control", "no-cache");
  return { status: 200, headers, body: encoder.encode(page(config)) };
}
