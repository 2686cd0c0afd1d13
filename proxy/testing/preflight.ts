/**
 * Before `deno task test`: the tests talk to real clients and servers written by others (curl,
 * openssl, nghttp, h2load, pebble, gunicorn, socat, dnsmasq, dig, python3 websockets and prometheus_client,
 * libfaketime). When one is
 * missing this says which, and the one apt-get line that installs them, instead of letting
 * dozens of tests fail with "No such file or directory".
 *
 * Usage: deno run --allow-env=PATH --allow-read --allow-run proxy/testing/preflight.ts
 *
 * @module
 */
import { join } from "node:path";
import { SYSTEM_PYTHON } from "./prometheus.ts";

/** A program the tests run, and the Debian package that has it. */
export const PROGRAMS: readonly { program: string; debian: string }[] = [
  { program: "curl", debian: "curl" },
  { program: "openssl", debian: "openssl" },
  { program: "nghttp", debian: "nghttp2-client" },
  { program: "h2load", debian: "nghttp2-client" },
  { program: "pebble", debian: "pebble" },
  { program: "pebble-challtestsrv", debian: "pebble" },
  { program: "gunicorn", debian: "gunicorn" }, // an HTTP app on a unix socket
  { program: "socat", debian: "socat" }, // a byte-stream echo on a unix socket
  { program: "dnsmasq", debian: "dnsmasq" }, // a DNS server behind a UDP entrypoint
  { program: "dig", debian: "bind9-dnsutils" }, // the DNS client of the UDP tests
];

/** A module the tests import in the system python, and its Debian package. */
export const PYTHON_MODULES: readonly { module: string; debian: string }[] = [
  { module: "websockets", debian: "python3-websockets" },
  { module: "prometheus_client", debian: "python3-prometheus-client" },
];

/** The system's directory of shared libraries (Debian's multiarch layout). */
export const LIB_DIR = `/usr/lib/${Deno.build.arch}-linux-gnu`;

/** A shared library the tests preload (a file under LIB_DIR), and its Debian package. */
export const LIBRARIES: readonly { name: string; file: string; debian: string }[] = [
  // steps the wall clock of a Gatehouse process (clock_test.ts)
  { name: "libfaketime", file: "faketime/libfaketime.so.1", debian: "libfaketime" },
];

/** Whether an executable file named `program` is in one of `path`'s directories. */
async function onPath(program: string, path: string): Promise<boolean> {
  for (const dir of path.split(":").filter(Boolean)) {
    try {
      const info = await Deno.stat(join(dir, program));
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Whether `python` can import `module`. */
async function imports(python: string, module: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(python, {
      args: ["-c", `import ${module}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

/** What is missing: the names (programs, python modules) and their Debian packages. */
export async function missingTools(
  path = Deno.env.get("PATH") ?? "",
  python = SYSTEM_PYTHON,
  libDir = LIB_DIR,
): Promise<{ names: string[]; packages: string[] }> {
  const names: string[] = [];
  const packages = new Set<string>();
  for (const { program, debian } of PROGRAMS) {
    if (await onPath(program, path)) continue;
    names.push(program);
    packages.add(debian);
  }
  for (const { module, debian } of PYTHON_MODULES) {
    if (await imports(python, module)) continue;
    names.push(`python3 ${module}`);
    packages.add(debian);
  }
  for (const { name, file, debian } of LIBRARIES) {
    try {
      if ((await Deno.stat(join(libDir, file))).isFile) continue;
    } catch {
      // not installed
    }
    names.push(name);
    packages.add(debian);
  }
  return { names, packages: [...packages] };
}

/** The message for what is missing, or null when nothing is. */
export function preflightMessage(missing: { names: string[]; packages: string[] }): string | null {
  if (missing.names.length === 0) return null;
  return `Cannot run the tests: ${missing.names.join(", ")} missing (the tests use real ` +
    `clients and servers).\nInstall them (Debian/Ubuntu): sudo apt-get install -y ` +
    missing.packages.join(" ");
}

if (import.meta.main) {
  const message = preflightMessage(await missingTools());
  if (message !== null) {
    console.error(message);
    Deno.exit(1);
  }
}
