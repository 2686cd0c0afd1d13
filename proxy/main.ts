/**
 * Gatehouse command line: `deno task start [--config FILE]`, `deno task check [--config FILE]`.
 *
 * The config file is `--config FILE`, else $GATEHOUSE_CONFIG, else config/gatehouse.yaml.
 * SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config.
 */
import { parseArgs } from "node:util";
import { type Config, formatConfigError, loadConfig } from "./config/mod.ts";
import { Gatehouse } from "./app/gatehouse.ts";
import { closeLogging, log } from "./telemetry/log.ts";

const USAGE = `Usage: gatehouse [--config FILE] [--check] [--ensure-dev-certs DIR]

  --config FILE           routing file (default: $GATEHOUSE_CONFIG or config/gatehouse.yaml)
  --check                 validate the file, print every error, exit 0 (valid) or 1
  --ensure-dev-certs DIR  create a development CA and localhost certificate in DIR if missing;
                          $GATEHOUSE_DEV_CERT_HOSTS adds names (comma-separated), e.g.
                          app.localhost: clients refuse *.localhost for them
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
  const path = args.config ?? Deno.env.get("GATEHOUSE_CONFIG") ?? "config/gatehouse.yaml";
  if (args["ensure-dev-certs"] !== undefined) {
    const { ensureDevCertificates } = await import("../certs/mkcert.ts");
    const hosts = (Deno.env.get("GATEHOUSE_DEV_CERT_HOSTS") ?? "").split(",")
      .map((host) => host.trim()).filter(Boolean);
    const made = await ensureDevCertificates(args["ensure-dev-certs"], { hosts });
    console.error(`Development certificates ${made.action}: ${made.certPath} (${made.reason})`);
  }

  const loaded = await loadConfig(path);
  if (!loaded.ok) {
    for (const e of loaded.errors) console.error(formatConfigError(e));
    console.error(`${path}: ${loaded.errors.length} error(s); nothing was started`);
    return 1;
  }
  const config = loaded.config;
  if (args.check) {
    console.log(`${path}: OK (${summary(config)})`);
    return 0;
  }
  return await serve(config);
}

async function serve(config: Config): Promise<number> {
  // Listening starts inside Gatehouse.start: the handlers must be in place before it, or a
  // SIGTERM that follows the first accepted connection closely kills the process (exit 143).
  let gatehouse: Gatehouse | null = null;
  const { promise: stop, resolve } = Promise.withResolvers<string>();
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGHUP", () => void gatehouse?.reload("SIGHUP"));
  try {
    gatehouse = await Gatehouse.start(config);
  } catch (err) {
    logger.error("{error}", { error: (err as Error).message });
    await closeLogging();
    return 1;
  }
  logger.info("Gatehouse {version} serving {source} ({summary})", {
    version: config.version,
    source: config.source,
    summary: summary(config),
  });
  const signal = await stop;
  logger.info("{signal}: draining for up to {ms} ms", {
    signal,
    ms: gatehouse.runtime.config.timeouts.drain,
  });
  await gatehouse.stop();
  logger.info("Stopped");
  await closeLogging();
  return 0;
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
