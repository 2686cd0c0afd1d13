/**
 * 100 reloads (valid changes alternating with broken files) while traffic of every kind is in
 * flight: a request loop, a WebSocket session, a TCP stream and a 200 MiB download. Nothing may fail, every
 * valid change must be visible within a second, every broken file reported with its line.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { patternStream } from "../testing/bytes.ts";
import { startGatehouse } from "../testing/gatehouse.ts";
import { yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { readBytes, tcpUpstream, writeAll as tcpWrite } from "../testing/tcp_peers.ts";

const DOWNLOAD = 200 * 1024 * 1024;

function config(up: string, ws: string, tcp: string, version: number, broken: boolean): string {
  // The broken variant names an unknown service on line 10 (a valid YAML, an invalid config).
  return yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      stream: { address: "127.0.0.1:0", protocol: tcp }
    routes:
      - { name: ping, match: { path: /ping }, service: app }
      - { name: big, match: { path: /big }, service: app }
      - { name: ws, match: { path: /ws }, service: ws }
      - name: versioned
        match: { path: /v${version} }
        service: ${broken ? "missing" : "app"}
    tcp_routes:
      - { name: echo, entrypoints: [stream], service: echo }
    services:
      app: { servers: [${up}] }
      ws: { servers: [${ws}] }
      echo: { servers: [${tcp}] }
    admin: { address: "127.0.0.1:0" }
  `;
}

// With the data path in this isolate, and in two worker isolates.
for (const workers of [1, 2]) {
  Deno.test({
    name:
      `100 reloads under load: no failed request, tunnels and downloads survive (workers: ${workers})`,
    async fn() {
      let expectedDigest = "";
      await using up = httpUpstream((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/big") {
          return new Response(patternStream(DOWNLOAD, (d) => expectedDigest = d.sha256));
        }
        return new Response(`ok ${path}`);
      });
      const wsServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onmessage = (e) => socket.send(e.data);
        return response;
      });
      const wsUrl = `http://127.0.0.1:${wsServer.addr.port}`;
      await using tcp = tcpUpstream();
      await using gh = await startGatehouse(
        config(up.url, wsUrl, tcp.url, 0, false),
        true,
        workers,
      );
      const port = gh.port();
      const base = `http://127.0.0.1:${port}`;

      // A WebSocket session that must echo before, during and after the reloads.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const replies: string[] = [];
      ws.onmessage = (e) => replies.push(String(e.data));
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const echo = async (text: string) => {
        ws.send(text);
        await waitFor(() => replies.includes(text), `the echo of ${text}`);
      };
      await echo("before");

      // A TCP stream that must echo before, during and after the reloads.
      const stream = await Deno.connect({ hostname: "127.0.0.1", port: gh.port("stream") });
      const tcpEcho = async (text: string) => {
        await tcpWrite(stream, text);
        assert.equal(new TextDecoder().decode(await readBytes(stream, text.length)), text);
      };
      await tcpEcho("before");

      // A slow 200 MiB download that spans the reloads.
      const download = (async () => {
        const res = await fetch(`${base}/big`);
        const hash = createHash("sha256");
        let bytes = 0;
        for await (const chunk of res.body!) {
          hash.update(chunk);
          bytes += chunk.length;
          if (bytes % (4 << 20) < chunk.length) await new Promise((r) => setTimeout(r, 150));
        }
        return { bytes, sha256: hash.digest("hex") };
      })();

      // A request loop on keep-alive connections.
      let stop = false;
      let sent = 0;
      const failures: string[] = [];
      const loop = (async () => {
        while (!stop) {
          try {
            const res = await fetch(`${base}/ping`);
            const body = await res.text();
            if (res.status !== 200 || body !== "ok /ping") failures.push(`${res.status} ${body}`);
          } catch (err) {
            failures.push(String(err));
          }
          sent++;
        }
      })();

      const slowest: number[] = [];
      for (let i = 1; i <= 100; i++) {
        const broken = i % 2 === 0;
        const previous = gh.gatehouse.reloader.last?.at;
        const written = Date.now();
        // Written whole (a new file renamed over the old): a poll between truncating and writing
        // in place would see an empty file, a refused reload this test does not mean to make.
        await Deno.writeTextFile(`${gh.file}.new`, config(up.url, wsUrl, tcp.url, i, broken));
        await Deno.rename(`${gh.file}.new`, gh.file);
        if (broken) {
          await waitFor(() => gh.gatehouse.reloader.last?.at !== previous, `reload ${i}`, 2000);
          const last = gh.gatehouse.reloader.last!;
          assert.equal(last.ok, false, `reload ${i} should be refused`);
          assert.match(last.errors.join("\n"), /gatehouse\.yaml:10:\d+ routes\[3\]\.service/);
        } else {
          await waitFor(
            async () => {
              const res = await fetch(`${base}/v${i}`);
              return (await res.text()) === `ok /v${i}`;
            },
            `route /v${i}`,
            1000,
          );
          slowest.push(Date.now() - written);
          // With workers, the route serves once every worker committed, a moment before the
          // reloader records the result.
          await waitFor(() => gh.gatehouse.reloader.last?.at !== previous, `reload ${i}`, 1000);
          assert.equal(gh.gatehouse.reloader.last!.ok, true, `reload ${i} should apply`);
        }
        if (i % 25 === 0) {
          await echo(`during ${i}`);
          await tcpEcho(`during ${i}`);
        }
      }
      stop = true;
      await loop;
      await echo("after");
      await tcpEcho("after");
      stream.close();
      const got = await download;
      ws.close();
      await wsServer.shutdown();

      assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
      assert.ok(sent > 100, `only ${sent} requests were sent`);
      assert.equal(got.bytes, DOWNLOAD);
      assert.equal(got.sha256, expectedDigest);
      assert.ok(Math.max(...slowest) <= 1000, `slowest visible change: ${Math.max(...slowest)} ms`);
    },
  });
}
