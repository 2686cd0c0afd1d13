/**
 * Nothing is ever encoded twice, nor mislabelled: every upstream coding, every client
 * Accept-Encoding, HTTP/1.1 and HTTP/2, bytes as curl received them (without --compressed). And
 * Deno's own automatic compression, which an environment variable turns on for hyper's h2, never
 * runs in a Gatehouse process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../../testing/certs.ts";
import { spawnProxy } from "../../testing/process.ts";
import { proxyFor, yaml } from "../../testing/proxy.ts";
import { compressionUpstream, curl, type CurlResult, decode, JSON_BODY } from "./test_helpers.ts";

const UPSTREAM_CODINGS = ["", "gzip", "br", "zstd"];
const ACCEPTS: (string | null)[] = [null, "identity", "gzip", "br", "zstd", "gzip, br, zstd"];

/** The body decoded by the one coding the response names, checked against what was asked. */
function assertDecodesOnce(res: CurlResult, accept: string | null, label: string): void {
  const coding = res.headers.get("content-encoding") ?? null;
  assert.ok(coding === null || !coding.includes(","), `${label}: stacked "${coding}"`);
  if (coding !== null && accept !== null) {
    assert.ok(accept.split(", ").includes(coding), `${label}: "${coding}" not accepted`);
  }
  assert.deepEqual(decode(coding, res.body), JSON_BODY, label);
}

function acceptArgs(accept: string | null): string[] {
  return accept === null ? [] : ["-H", `Accept-Encoding: ${accept}`];
}

Deno.test("no response is encoded twice, over HTTP/1.1 and HTTP/2, whatever was asked", async () => {
  await using up = compressionUpstream();
  await using gw = await proxyFor([up.url]);
  const ca = gw.certs.caCertPath;
  const clients: [string, (path: string) => string, string[]][] = [
    ["h1", (path) => gw.url(path, "web"), ["--http1.1"]],
    ["h2", (path) => gw.url(path, "websecure"), ["--http2", "--cacert", ca]],
  ];
  for (const [protocol, url, args] of clients) {
    for (const upstream of UPSTREAM_CODINGS) {
      const path = upstream === "" ? "/json" : `/encoded/${upstream}`;
      for (const accept of ACCEPTS) {
        const res = await curl(url(path), ...args, ...acceptArgs(accept));
        const label = `${protocol} ${upstream || "identity"} upstream, Accept-Encoding ${accept}`;
        assert.equal(res.version, protocol === "h2" ? "HTTP/2" : "HTTP/1.1", label);
        assertDecodesOnce(res, accept, label);
      }
    }
  }
});

Deno.test("DENO_SERVE_AUTOMATIC_COMPRESSION set: Deno compresses nothing itself", async () => {
  await using up = compressionUpstream();
  await using gw = await spawnProxy(
    (port) =>
      yaml`
      entrypoints:
        websecure:
          address: "127.0.0.1:${port}"
          tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
      routes:
        - service: app
        - { service: app, match: { path: /off }, compression: false }
      services: { app: { servers: ["${up.url}"] } }
      admin: { address: off }
      log: { access_log: { enabled: false } }
    `,
    { DENO_SERVE_AUTOMATIC_COMPRESSION: "1" },
  );
  const caDir = await Deno.makeTempDir();
  try {
    const ca = join(caDir, "ca.crt");
    await Deno.writeTextFile(ca, (await testPki()).caPem);
    const base = `https://localhost:${gw.port}`;
    for (const version of ["--http2", "--http1.1"]) {
      const args = [version, "--cacert", ca, "-H", "Accept-Encoding: gzip, br"];
      const off = await curl(`${base}/off/json`, ...args);
      assert.equal(off.status, 200, version);
      assert.equal(off.headers.get("content-encoding"), undefined, `${version}: /off`);
      assert.deepEqual(off.body, JSON_BODY, version);
      const small = await curl(`${base}/small`, ...args);
      assert.equal(small.headers.get("content-encoding"), undefined, `${version}: /small`);
      const on = await curl(`${base}/json`, ...args);
      assert.equal(on.headers.get("content-encoding"), "br", version);
      assertDecodesOnce(on, "gzip, br", `${version} /json`);
    }
  } finally {
    await Deno.remove(caDir, { recursive: true });
  }
});
