/**
 * The built-in `welcome@internal` service: a page saying Gatehouse runs and how to add a route.
 */
import { HeaderList } from "../proto/header_list.ts";
import type { OutgoingResponse } from "../proto/message.ts";

function page(configPath: string): string {
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
<p>Edit <code>${escapeHtml(configPath)}</code>: add a service and a route, save, and the change
applies without a restart.</p>
<pre>routes:
  - name: app
    match:
      host: app.localhost
    service: app

services:
  app:
    servers:
      - http://127.0.0.1:3000</pre>
<p>Check a file before you rely on it with <code>deno task check --config FILE</code>.</p>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const encoder = new TextEncoder();

export function welcomeResponse(configPath: string): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", "text/html; charset=utf-8");
  headers.appendLower("cache-control", "no-cache");
  return { status: 200, headers, body: encoder.encode(page(configPath)) };
}
