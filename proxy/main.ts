/**
 * Gatehouse command line: `deno task start [--config FILE]`, `deno task check [--config FILE]`,
 * `--version`.
 *
 * The config file is `--config FILE`, else $GATEHOUSE_CONFIG, else config/gatehouse.yaml.
 * SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config. A worker isolate that fails after
 * the start drains the others and exits 1.
 */
import { parseArgs } from "node:util";
import type { DevCertificates } from "./pki/dev_ca.ts";
import {
  type Config,
  type ConfigError,
  type ConfigFragment,
  formatConfigError,
  formatConfigWarning,
  loadConfig,
} from "./config/mod.ts";
import { Gatehouse } from "./app/gatehouse.ts";
import { firstHttpsUrl, listenerUrls } from "./app/listeners.ts";
import { closeLogging, log } from "./telemetry/log.ts";
import {
  devCertificateNotice,
  ensureDevCertificatesFor,
  fragmentLocalhostNames,
} from "./app/dev_certs.ts";
import { workerCount } from "./app/worker_count.ts";
import { VERSION, versionText } from "./app/version.ts";

const USAGE = `Usage: gatehouse [--config FILE] [--check] [--ensure-dev-certs DIR] [--version]

  --config FILE           routing file (default: $GATEHOUSE_CONFIG or config/gatehouse.yaml)
  --check                 validate the file, print every error, exit 0 (valid) or 1
  --ensure-dev-certs DIR  when the config serves DIR/localhost.crt: create a development CA and
                          that certificate if missing, for localhost and every localhost name
                          the routes match, at start and on reload; $GATEHOUSE_DEV_CERT_HOSTS
                          adds names (comma-separated)
  --version               print the versions of Gatehouse and Deno
`;

const logger = log("main");

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        config: { type: "string" },
        check: { type: "boolean" },
        "ensure-dev-certs": { type: "string" },
        version: { type: "boolean", short: "V" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.version) {
    console.log(versionText());
    return 0;
  }
  const path = args.config ?? Deno.env.get("GATEHOUSE_CONFIG") ?? "config/gatehouse.yaml";
  const devCerts = args["ensure-dev-certs"];
  const ensureCerts = devCerts === undefined
    ? null
    : (report: (problem: string) => void, labelHosts: readonly string[] = []) =>
      ensureDevCerts(path, devCerts, report, labelHosts);
  const made = await ensureCerts?.((problem) => console.error(problem)) ?? null;

  const loaded = await loadConfig(path);
  if (!loaded.ok) {
    for (const e of loaded.errors) console.error(formatConfigError(e));
    console.error(`${path}: ${loaded.errors.length} error(s); nothing was started`);
    return 1;
  }
  const { config, warnings } = loaded;
  if (args.check) {
    const notice = made && devCertificateNotice(made, null);
    if (notice) console.error(notice);
    for (const w of warnings) console.error(formatConfigWarning(w));
    const warned = warnings.length === 0 ? "" : `; ${warnings.length} warning(s)`;
    console.log(`${path}: OK (${summary(config)}${warned})`);
    return 0;
  }
  return await serve(config, warnings, made, ensureCerts);
}

/**
 * Creates or renews the development certificates the config at `path` serves from `dir`; null
 * when it serves none. A failure (no write permission) goes to `report`, and is not fatal:
 * loading the config then says which file is missing.
 */
async function ensureDevCerts(
  path: string,
  dir: string,
  report: (problem: string) => void,
  labelHosts: readonly string[],
): Promise<DevCertificates | null> {
  const hosts = (Deno.env.get("GATEHOUSE_DEV_CERT_HOSTS") ?? "").split(",")
    .map((host) => host.trim()).filter(Boolean);
  hosts.push(...labelHosts);
  try {
    return await ensureDevCertificatesFor(path, dir, hosts);
  } catch (err) {
    report(`Cannot create development certificates in ${dir}: ${(err as Error).message}`);
    return null;
  }
}

async function serve(
  config: Config,
  warnings: readonly ConfigError[],
  made: DevCertificates | null,
  ensureCerts:
    | ((
      report: (problem: string) => void,
      labelHosts?: readonly string[],
    ) => Promise<DevCertificates | null>)
    | null,
): Promise<number> {
  // Listening starts inside Gatehouse.start: the handlers must be in place before it, or a
  // SIGTERM that follows the first accepted connection closely kills the process (exit 143).
  let gatehouse: Gatehouse | null = null;
  const { promise: stop, resolve } = Promise.withResolvers<string>();
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGHUP", () => void gatehouse?.reload("SIGHUP"));
  let code = 0;
  // Hosts that container labels route get into the development certificate too.
  const beforeReload = ensureCerts &&
    (async (_path: string, fragments: readonly ConfigFragment[]) => {
      const report = (error: string) => logger.error("{error}", { error });
      const renewed = await ensureCerts(report, fragmentLocalhostNames(fragments));
      const notice = renewed && devCertificateNotice(renewed, null);
      if (notice) logger.info(notice);
    });
  try {
    gatehouse = await Gatehouse.start(config, {
      beforeReload: beforeReload ?? undefined,
      workers: workerCount(config.workers),
      onWorkerFailure: () => {
        code = 1;
        resolve("A worker failed");
      },
    });
  } catch (err) {
    logger.error("{error}", { error: (err as Error).message });
    await closeLogging();
    return 1;
  }
  const urls = listenerUrls(config, (name) => gatehouse?.port(name), gatehouse.adminPort);
  const notice = made && devCertificateNotice(made, firstHttpsUrl(urls));
  if (notice) logger.info(notice);
  for (const w of warnings) logger.warning("{warning}", { warning: formatConfigWarning(w) });
  const workers = gatehouse.workers === 1 ? "" : `; ${gatehouse.workers} worker isolates`;
  logger.info("Gatehouse {version} serving {source} (config={config}; {summary}): {listeners}", {
    version: VERSION,
    source: config.source,
    config: config.version,
    summary: `${summary(config)}${workers}`,
    listeners: urls.join(", "),
  });
  const signal = await stop;
  logger.info("{signal}: draining for up to {ms} ms", {
    signal,
    ms: gatehouse.runtime.config.timeouts.drain,
  });
  await gatehouse.stop();
  logger.info("Stopped");
  await closeLogging();
  return code;
}

function summary(config: Config): string {
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  return [
    n(Object.keys(config.entrypoints).length, "entrypoint"),
    n(config.routes.length, "route"),
    n(config.tcpRoutes.length, "TCP route"),
    n(Object.keys(config.services).length, "service"),
  ].join(", ");
}

if (import.meta.main) Deno.exit(await main());
