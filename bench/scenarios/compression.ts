/**
 * Compression (issue 6): the 100 KiB JSON document through each proxy's compression listener,
 * with clients accepting gzip, then br. Before each measurement one curl request checks that
 * the response really is encoded as asked and measures its body on the wire.
 *
 * @module
 */
import { LEVELS, PATHS, SIZES } from "../lib/layout.ts";
import type { Target } from "../lib/targets.ts";
import { readWrk, REQ_METRICS, wrkArgv } from "./http.ts";
import { MAIN_TARGETS, measureTool, type Scenario, type ScenarioContext } from "./types.ts";

type Codec = "gzip" | "br";

/** Content-Encoding and body size of one response, as curl sees them on the wire. */
async function probe(ctx: ScenarioContext, url: string, codec: Codec) {
  const argv = [
    "curl",
    "-sS",
    "--max-time",
    "10",
    "-o",
    "/dev/null",
    "-D",
    "-",
    "-H",
    `Accept-Encoding: ${codec}`,
    "-w",
    "BODY_BYTES %{size_download} STATUS %{http_code}\n",
    url,
  ];
  const out = await ctx.sup.run(argv, ctx.layout.pinning.load);
  const status = Number(out.stdout.match(/STATUS (\d+)/)?.[1]);
  if (out.code !== 0 || status !== 200) {
    throw new Error(`Cannot fetch ${url}: curl exit ${out.code}, status ${status} ${out.stderr}`);
  }
  const encoding = out.stdout.match(/^content-encoding:\s*(\S+)/im)?.[1]?.toLowerCase();
  return {
    encoding: encoding ?? "identity",
    bytes: Number(out.stdout.match(/BODY_BYTES (\d+)/)![1]),
  };
}

function compressionMeasure(codec: Codec): Scenario["run"] {
  return async (ctx: ScenarioContext, target: Target) => {
    const url = `http://127.0.0.1:${target.endpoints.compress}${PATHS.json}`;
    const seen = await probe(ctx, url, codec);
    const expected = target.name === "direct" ? "identity" : codec;
    if (seen.encoding !== expected) {
      throw new Error(`Not compressed as asked: Content-Encoding "${seen.encoding}" for ${codec}`);
    }
    const header = ["-H", `Accept-Encoding: ${codec}`];
    const { seconds, warmup } = ctx.timing;
    const measured = await measureTool(ctx, target, {
      warmup: warmup > 0 ? wrkArgv(url, 50, warmup, header) : undefined,
      argv: wrkArgv(url, 50, seconds, header),
    }, (out) => readWrk(out.stdout));
    return { ...measured, values: { ...measured.values, body_kib: seen.bytes / 1024 } };
  };
}

function compressionScenario(codec: Codec): Scenario {
  return {
    id: `${codec}-json`,
    title: `Compression: 100 KiB JSON, client accepts ${codec}`,
    method: `wrk -t1 -c50 -H "Accept-Encoding: ${codec}", GET ${PATHS.json} ` +
      `(${SIZES.json} bytes of JSON, identity from the upstream) on the compression listener ` +
      `(${codec} level ${LEVELS[codec]} where the proxy has a level); body size from one curl ` +
      `request that also checks Content-Encoding. "direct" is the uncompressed upstream`,
    needs: "compress",
    alsoNeeds: codec === "br" ? "br" : undefined,
    targets: MAIN_TARGETS,
    metrics: [
      ...REQ_METRICS,
      { key: "body_kib", label: "body KiB on wire", better: "lower", digits: 1 },
    ],
    operation: "req",
    run: compressionMeasure(codec),
  };
}

/** The compression scenarios. */
export const COMPRESSION_SCENARIOS: Scenario[] = [
  compressionScenario("gzip"),
  compressionScenario("br"),
];
