/**
 * `deno task certs`: a local development CA and a certificate for localhost signed by it.
 *
 * Valid files are kept; a leaf that expires within 30 days, lacks a requested name or does not
 * match its key or CA is replaced, reusing the CA (so it stays trusted) while that lives long
 * enough. Names only ever add up: a new leaf keeps every name of the one it replaces. `--force`
 * replaces the CA too.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { day, ensureDevCertificates, trustInstructions } from "../proxy/pki/dev_ca.ts";

const USAGE = `Usage: deno task certs [--force] [--dir DIR] [--hosts a.localhost,b.localhost]
  --dir DIR      where to write the files (default: certs)
  --hosts LIST   DNS names or IP addresses to add to the certificate, comma-separated (the
                 names it already has stay; delete DIR/localhost.crt to start again)
  --force        replace the CA and the certificate even when they are valid`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      // `deno task certs -- --hosts x` passes the "--" on: it separates nothing here.
      args: args[0] === "--" ? args.slice(1) : args,
      options: {
        force: { type: "boolean", default: false },
        dir: { type: "string", default: "certs" },
        hosts: { type: "string", default: "" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`Cannot parse arguments: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const hosts = values.hosts.split(",").map((host) => host.trim()).filter(Boolean);
  const result = await ensureDevCertificates(values.dir, { force: values.force, hosts });
  const headline = {
    kept: "Nothing to do, keeping the existing files",
    renewed: "Issued a new certificate from the existing CA",
    created: "Created a new CA and certificate; trust the new CA",
  }[result.action];
  console.log(`${headline} (${result.reason}):
  CA certificate: ${result.caCertPath}
  CA key:         ${result.caKeyPath} (keep private: it can sign for any name)
  Certificate:    ${result.certPath} (${result.names.join(", ")}; until ${day(result.notAfter)})
  Key:            ${result.keyPath}

${trustInstructions(result.caCertPath)}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
