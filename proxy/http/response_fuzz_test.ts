/**
 * Mutated HTTP/1.1 responses from an upstream (seeded, reproducible), to HTTP/1.1 clients (with
 * and without `TE: trailers`) and HTTP/2 clients (h2c): whatever an upstream answers, a client
 * gets a well-framed response (the upstream's, made canonical, or Gatehouse's
 * 502/504) or a connection closed in the middle of a body, never a hang, and a later request gets
 * its own answer: nothing an upstream sent once stays in a connection to answer another request.
 *
 * GATEHOUSE_FUZZ_CASES (default 480) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed, lane and case, and the response, which reproduce it.
 */
import { FUZZ_SEED, fuzzCases } from "../testing/fuzz_lanes.ts";
import { latin1Bytes } from "../testing/wire.ts";
import { type RawUpstream, rawUpstream } from "../testing/servers.ts";
import { mutate, type Rng } from "../testing/mutate.ts";
import { fuzzResponses, twoRequestsH1, twoRequestsH2 } from "../testing/fuzz_client.ts";

const CASES = fuzzCases(480);
const CASE_LIMIT_MS = 5000;

const SEEDS: readonly string[] = [
  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: 1\r\n\r\nok",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n2;e=1\r\nok\r\n0\r\nx-t: 1\r\n\r\n",
  "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n",
  'HTTP/1.1 304 Not Modified\r\netag: "a"\r\n\r\n',
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
  "HTTP/1.0 200 OK\r\n\r\nok",
  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n" +
  "connection: keep-alive, x-hop\r\nx-hop: 1\r\n\r\nok",
  "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
  "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
];

const WORDS: readonly string[] = [
  ...[" ", "\t", "\r", "\n", "\r\n", "\r\n\r\n", "\0", "\x0b", "\x7f", "\xff", ":", ";", ","],
  ...["chunked", " chunked", "gzip", "0\r\n\r\n", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "999"],
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 0\r\n",
  "Content-Length: 5\r\n",
  "Connection: close\r\n",
  "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad",
  "x".repeat(100),
];

interface Lane {
  readonly up: RawUpstream;
  /** What the upstream answers to GET /m in the current case. */
  mutated: string;
  /** Close the upstream connection after the mutated answer. */
  closeAfter: boolean;
  /** The x-seq of the upstream's last clean answer. */
  seq: number;
}

function lane(): Lane {
  const l: Lane = {
    mutated: "",
    closeAfter: false,
    seq: 0,
    up: rawUpstream(async (req, conn) => {
      if (req.target === "/m") {
        await conn.write(latin1Bytes(l.mutated));
        if (l.closeAfter) conn.close();
        return;
      }
      const n = ++l.seq;
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-seq: ${n}\r\n\r\nok`);
    }),
  };
  return l;
}

async function runCase(port: number, l: Lane, rng: Rng): Promise<string | null> {
  l.mutated = mutate(rng, SEEDS, WORDS);
  l.closeAfter = rng() < 0.3;
  const client = rng();
  const seq = () => l.seq;
  return client < 0.3
    ? await twoRequestsH2(port, seq, CASE_LIMIT_MS)
    : await twoRequestsH1(port, seq, client < 0.6, CASE_LIMIT_MS);
}

async function runLane(port: number, l: Lane, rng: Rng, cases: number, name: string) {
  const failures: string[] = [];
  for (let k = 0; k < cases; k++) {
    const failure = await runCase(port, l, rng);
    if (failure !== null) {
      failures.push(
        `${name} case ${k} (seed ${FUZZ_SEED}), upstream sent ${JSON.stringify(l.mutated)}${
          l.closeAfter ? " and closed" : ""
        }: ${failure}`,
      );
    }
  }
  return failures;
}

Deno.test("mutated upstream responses: clients get well-framed answers, later requests their own", async () => {
  await fuzzResponses(lane, CASES, (l, port, rng, n, name) => runLane(port, l, rng, n, name));
});
