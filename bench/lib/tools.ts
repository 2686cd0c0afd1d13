/**
 * The programs the bench drives: found on PATH (or as module files), installed with apt-get when
 * missing, and their versions recorded for RESULTS.md.
 *
 * @module
 */

/** A program or file the bench needs, and the Debian package that provides it. */
interface Requirement {
  name: string;
  /** A command looked up on PATH, or an absolute file path. */
  find: string;
  pkg: string;
  /** Scenarios still run without it (the feature is then reported as n/a). */
  optional?: boolean;
  version?: string[];
}

const MODULES = "/usr/lib/nginx/modules";

/** Absolute paths of nginx's dynamic modules used by the proxy config. */
export const NGINX_MODULES = {
  stream: `${MODULES}/ngx_stream_module.so`,
  brotli: `${MODULES}/ngx_http_brotli_filter_module.so`,
};

const REQUIREMENTS: Requirement[] = [
  { name: "taskset", find: "taskset", pkg: "util-linux", version: ["taskset", "--version"] },
  { name: "curl", find: "curl", pkg: "curl", version: ["curl", "--version"] },
  { name: "openssl", find: "openssl", pkg: "openssl", version: ["openssl", "version"] },
  { name: "nginx", find: "nginx", pkg: "nginx", version: ["nginx", "-v"] },
  { name: "nginx stream module", find: NGINX_MODULES.stream, pkg: "libnginx-mod-stream" },
  {
    name: "nginx brotli module",
    find: NGINX_MODULES.brotli,
    pkg: "libnginx-mod-http-brotli-filter",
    optional: true,
  },
  { name: "haproxy", find: "haproxy", pkg: "haproxy", version: ["haproxy", "-v"] },
  { name: "caddy", find: "caddy", pkg: "caddy", version: ["caddy", "version"] },
  { name: "wrk", find: "wrk", pkg: "wrk", version: ["wrk", "--version"] },
  { name: "h2load", find: "h2load", pkg: "nghttp2-client", version: ["h2load", "--version"] },
];

/** What was found: versions by tool name, and optional parts that are missing. */
export interface Toolset {
  versions: Record<string, string>;
  missingOptional: Set<string>;
  /** Debian packages this run installed. */
  installed: string[];
}

/** Finds every requirement, installing the missing ones unless `install` is false. */
export async function ensureTools(install: boolean): Promise<Toolset> {
  let missing = await missingRequirements(REQUIREMENTS);
  const installed: string[] = [];
  if (missing.length > 0 && install) {
    const pkgs = missing.map((r) => r.pkg);
    console.error(`Installing ${pkgs.join(", ")} with apt-get`);
    if (!(await aptInstall(pkgs))) {
      await command(["apt-get", "update"]);
      await aptInstall(pkgs);
    }
    installed.push(...pkgs);
    missing = await missingRequirements(REQUIREMENTS);
  }
  const required = missing.filter((r) => !r.optional);
  if (required.length > 0) {
    const list = required.map((r) => `${r.name} (Debian package ${r.pkg})`).join(", ");
    throw new Error(`Cannot run the bench: missing ${list}; install them or drop --no-install`);
  }
  const versions: Record<string, string> = { deno: `deno ${Deno.version.deno}` };
  for (const r of REQUIREMENTS) {
    if (r.version && !missing.includes(r)) versions[r.name] = await versionOf(r.version);
  }
  versions.gatehouse = await gatehouseVersion();
  return { versions, missingOptional: new Set(missing.map((r) => r.name)), installed };
}

async function missingRequirements(list: Requirement[]): Promise<Requirement[]> {
  const missing: Requirement[] = [];
  for (const r of list) {
    const found = r.find.startsWith("/")
      ? await exists(r.find)
      : (await command(["sh", "-c", `command -v ${r.find}`])).ok;
    if (!found) missing.push(r);
  }
  return missing;
}

async function aptInstall(pkgs: string[]): Promise<boolean> {
  const args = ["apt-get", "install", "-y", "--no-install-recommends", ...pkgs];
  const result = await command(args, { DEBIAN_FRONTEND: "noninteractive" });
  return result.ok;
}

async function versionOf(argv: string[]): Promise<string> {
  const result = await command(argv);
  const line = result.text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.replace(/^nginx version: /, "").trim();
}

/** The checked-out commit, with "+changes" when the working tree differs from it. */
async function gatehouseVersion(): Promise<string> {
  const head = await command(["git", "rev-parse", "--short", "HEAD"]);
  const dirty = await command(["git", "status", "--porcelain", "--untracked-files=no", "proxy"]);
  const changes = dirty.text.trim() === "" ? "" : " +uncommitted changes in proxy/";
  return `gatehouse ${head.text.trim()}${changes}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a short command; `text` is stdout followed by stderr. */
export async function command(
  argv: string[],
  env?: Record<string, string>,
): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(argv[0], { args: argv.slice(1), env, stdin: "null" })
      .output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { ok: out.success, text: decode(out.stdout) + decode(out.stderr) };
  } catch (error) {
    return { ok: false, text: (error as Error).message };
  }
}
