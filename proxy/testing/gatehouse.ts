/**
 * A whole Gatehouse (runtime, metrics, reload, admin) in the test process, from a YAML snippet
 * written to a temp dir with the test certificates (see proxy.ts's `loadTestConfig`). The
 * config file is real, so tests can edit it and watch the reload happen.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { Gatehouse, type GatehouseOptions } from "../app/gatehouse.ts";
import type { TestCertPaths } from "./certs.ts";
import { loadTestConfig } from "./proxy.ts";

export interface TestGatehouse extends AsyncDisposable {
  readonly gatehouse: Gatehouse;
  readonly config: Config;
  readonly dir: string;
  /** Path of the config file in the temp dir. */
  readonly file: string;
  readonly certs: TestCertPaths;
  /** Bound port of an entrypoint (default: the first one). */
  port(entrypoint?: string): number;
  /** "http://127.0.0.1:<admin port><path>". */
  admin(path: string): string;
  close(): Promise<void>;
}

/**
 * Starts a Gatehouse from `text`; `watch` turns on the file watcher (default true); `workers`
 * > 1 runs the data path in that many worker isolates; `options` adds to Gatehouse's options.
 */
export async function startGatehouse(
  text: string,
  watch = true,
  workers = 1,
  options: GatehouseOptions = {},
): Promise<TestGatehouse> {
  const { config, dir, certs } = await loadTestConfig(text);
  let gatehouse: Gatehouse;
  try {
    gatehouse = await Gatehouse.start(config, { watch, logging: false, workers, ...options });
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  const first = Object.keys(config.entrypoints)[0];
  let closed: Promise<void> | null = null;
  const close = () =>
    closed ??= (async () => {
      await gatehouse.stop();
      await Deno.remove(dir, { recursive: true });
    })();
  return {
    gatehouse,
    config,
    dir,
    file: join(dir, "gatehouse.yaml"),
    certs,
    port(name = first) {
      const p = gatehouse.port(name);
      if (p === undefined) throw new Error(`Cannot find entrypoint "${name}"`);
      return p;
    },
    admin(path) {
      if (gatehouse.adminPort === null) throw new Error("the admin endpoint is off");
      return `http://127.0.0.1:${gatehouse.adminPort}${path}`;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Requests each worker (or the one isolate) has answered so far on every entrypoint, from its
 * own samples: tests that need connections spread over workers check that every count is > 0.
 */
export async function requestsPerWorker(gh: TestGatehouse): Promise<number[]> {
  return (await gh.gatehouse.dataSamples()).map((samples) => {
    const metric = samples.find((m) => m.name === "gatehouse_entrypoint_requests_total");
    return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
  });
}
