/**
 * The files every bench run shares: bench/out/ and its logs, the dev certificates (and the bundle
 * HAProxy reads), the upstream's content.
 *
 * @module
 */
import { join } from "node:path";
import { ensureDevCertificates } from "../../proxy/pki/dev_ca.ts";
import { writeContent } from "../configs/upstream.ts";
import { type Layout, OUT } from "./layout.ts";

/** Creates bench/out/ and the dev certificates; returns the shared file paths. */
export async function prepareFiles(): Promise<Layout["files"]> {
  const logs = join(OUT, "logs");
  for (const dir of [OUT, logs, join(OUT, "nginx-tmp"), join(OUT, "caddy-home")]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  const certs = await ensureDevCertificates(join(OUT, "certs"));
  const bundle = join(OUT, "certs", "localhost-bundle.pem");
  const pem = (await Deno.readTextFile(certs.certPath)) + (await Deno.readTextFile(certs.keyPath));
  await Deno.writeTextFile(bundle, pem, { mode: 0o600 });
  const www = join(OUT, "www");
  await writeContent(www);
  return {
    out: OUT,
    logs,
    www,
    cert: certs.certPath,
    key: certs.keyPath,
    ca: certs.caCertPath,
    bundle,
  };
}
