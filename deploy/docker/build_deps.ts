/**
 * The Dockerfile's dependency step: installs the npm packages Gatehouse loads at run time, and
 * nothing else, so the image can start offline and carries no test tools (testcontainers).
 *
 * 1. Trims `deno.json` imports and `deno.lock` to the npm packages the entrypoints' module graph
 *    reaches (`deno info --json --no-npm` needs no network).
 * 2. Runs `deno install --frozen` on the trimmed files: the lock still pins every version and
 *    integrity hash, and a trimming mistake fails the build instead of re-resolving. A
 *    `node_modules` already in `--app` (the offline seed of `deploy/offline/seed_node_modules.sh`)
 *    is used as is when it is complete; anything missing is downloaded, trusting every `*.crt`
 *    and `*.pem` in `--ca-dir` (`DENO_CERT`), for builds behind a TLS-intercepting proxy.
 * 3. With `--deno-dir DIR`, runs `deno cache` so the transpiled modules are in DIR.
 *
 * Usage: deno run -A --no-config build_deps.ts --app DIR [--ca-dir DIR] [--deno-dir DIR] ENTRY...
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

/** The parts of `deno info --json` that trimming reads. */
export interface ModuleInfo {
  modules: { dependencies?: { code?: { specifier?: string } }[] }[];
  npmPackages: Record<string, { dependencies: string[] }>;
}

/** The parts of a version 5 `deno.lock` that trimming rewrites; other keys are kept. */
export interface Lockfile {
  version: string;
  specifiers?: Record<string, string>;
  npm?: Record<string, unknown>;
  workspace?: { dependencies?: string[] };
  [key: string]: unknown;
}

/** `deno.json` as far as trimming is concerned. */
export interface DenoJson {
  imports?: Record<string, string>;
  [key: string]: unknown;
}

/** `npm:yaml@2.9.1/sub/path` -> `npm:yaml@2.9.1`; undefined for other specifiers. */
export function npmRequest(specifier: string): string | undefined {
  const match = /^npm:\/?((?:@[^/]+\/)?[^/@]+(?:@[^/]*)?)/.exec(specifier);
  return match ? `npm:${match[1]}` : undefined;
}

/** Trims `config` and `lock` to the npm packages that `info`'s module graph imports. */
export function trimToGraph(
  config: DenoJson,
  lock: Lockfile,
  info: ModuleInfo,
): { config: DenoJson; lock: Lockfile; packages: string[] } {
  if (lock.version !== "5") {
    throw new Error(`Cannot trim deno.lock version "${lock.version}": this step reads version 5`);
  }
  const requests = new Set<string>();
  for (const module of info.modules) {
    for (const dependency of module.dependencies ?? []) {
      const request = npmRequest(dependency.code?.specifier ?? "");
      if (request) requests.add(request);
    }
  }
  const specifiers = Object.fromEntries(
    Object.entries(lock.specifiers ?? {}).filter(([request]) => requests.has(request)),
  );
  const missing = [...requests].filter((request) => !(request in specifiers));
  if (missing.length > 0) {
    throw new Error(
      `Cannot trim deno.lock: it has no entry for ${missing.map((m) => `"${m}"`).join(", ")}; ` +
        `run "deno install" and commit deno.lock`,
    );
  }
  const packages = new Set<string>();
  const queue = Object.entries(specifiers).map(([request, version]) => {
    const name = request.slice("npm:".length).replace(/(.)@.*$/, "$1");
    return `${name}@${version}`;
  });
  for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
    if (packages.has(key)) continue;
    const entry = info.npmPackages[key];
    if (!entry || !lock.npm?.[key]) {
      throw new Error(`Cannot trim deno.lock: package "${key}" is not in it`);
    }
    packages.add(key);
    queue.push(...entry.dependencies);
  }
  const imports = Object.fromEntries(
    Object.entries(config.imports ?? {}).filter(([, target]) => {
      const request = npmRequest(target);
      return request === undefined || requests.has(request);
    }),
  );
  const npm = Object.fromEntries(
    Object.entries(lock.npm ?? {}).filter(([key]) => packages.has(key)).sort(),
  );
  const workspace = {
    ...lock.workspace,
    dependencies: (lock.workspace?.dependencies ?? []).filter((r) => requests.has(r)),
  };
  return {
    config: { ...config, imports },
    lock: { ...lock, specifiers, npm, workspace },
    packages: [...packages].sort(),
  };
}

/** Concatenates every `*.crt` and `*.pem` file in `dir` (none: empty text). */
export async function caBundle(dir: string): Promise<string> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /\.(crt|pem)$/.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const texts = await Promise.all(names.sort().map((n) => Deno.readTextFile(join(dir, n))));
  return texts.map((text) => text.trim() + "\n").join("");
}

async function deno(args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`Cannot run "deno ${args.join(" ")}": exit code ${code}`);
  return new TextDecoder().decode(stdout);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      app: { type: "string" },
      "ca-dir": { type: "string" },
      "deno-dir": { type: "string" },
    },
  });
  if (!values.app || positionals.length === 0) {
    throw new Error("Usage: build_deps.ts --app DIR [--ca-dir DIR] [--deno-dir DIR] ENTRY...");
  }
  const app = values.app;
  const env: Record<string, string> = { NO_COLOR: "1" };
  const ca = values["ca-dir"] ? await caBundle(values["ca-dir"]) : "";
  if (ca) {
    env.DENO_CERT = await Deno.makeTempFile({ suffix: ".pem" });
    await Deno.writeTextFile(env.DENO_CERT, ca);
  }
  try {
    const configPath = join(app, "deno.json");
    const lockPath = join(app, "deno.lock");
    const config = JSON.parse(await Deno.readTextFile(configPath));
    const lock = JSON.parse(await Deno.readTextFile(lockPath));
    const info: ModuleInfo = { modules: [], npmPackages: {} };
    for (const entry of positionals) {
      const one = JSON.parse(await deno(["info", "--json", "--no-npm", entry], app, env));
      info.modules.push(...one.modules);
      Object.assign(info.npmPackages, one.npmPackages);
    }
    const trimmed = trimToGraph(config, lock, info);
    await Deno.writeTextFile(configPath, JSON.stringify(trimmed.config, null, 2) + "\n");
    await Deno.writeTextFile(lockPath, JSON.stringify(trimmed.lock, null, 2) + "\n");
    console.error(`Runtime npm packages: ${trimmed.packages.join(", ") || "none"}`);
    await deno(["install", "--frozen", "--entrypoint", ...positionals], app, env);
    const denoDir = values["deno-dir"];
    if (denoDir) {
      await deno(["cache", "--frozen", ...positionals], app, { ...env, DENO_DIR: denoDir });
    }
  } finally {
    if (env.DENO_CERT) await Deno.remove(env.DENO_CERT);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
