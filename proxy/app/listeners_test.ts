import assert from "node:assert/strict";
import { loadTestConfig, yaml } from "../testing/proxy.ts";
import { firstHttpsUrl, listenerUrls } from "./listeners.ts";

Deno.test("listenerUrls names every listener as a URL, in file order, then the admin API", async () => {
  const { config, dir } = await loadTestConfig(yaml`
    entrypoints:
      web: { address: ":8080", redirect: { to: websecure } }
      websecure:
        address: ":0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
      local: { address: "[::1]:8081" }
      db: { address: "127.0.0.1:5432", protocol: tcp }
      redis:
        address: ":6380"
        protocol: tcp
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    tcp_routes: [{ entrypoints: [db, redis], service: db }]
    services: { db: { servers: ["tcp://10.0.0.1:5432"] } }
    admin: { address: "127.0.0.1:0" }
  `);
  await Deno.remove(dir, { recursive: true });
  const ports: Record<string, number> = { websecure: 44301 };
  const urls = listenerUrls(config, (name) => ports[name], 39901);
  assert.deepEqual(urls, [
    "http://localhost:8080 -> redirect to websecure",
    "https://localhost:44301",
    "http://[::1]:8081",
    "tcp://127.0.0.1:5432",
    "tls://localhost:6380",
    "admin http://127.0.0.1:39901",
  ]);
  assert.equal(firstHttpsUrl(urls), "https://localhost:44301");
  assert.deepEqual(
    listenerUrls(config, (name) => ports[name], null).at(-1),
    "tls://localhost:6380",
  );
  assert.equal(firstHttpsUrl(["http://localhost:80"]), null);
});
