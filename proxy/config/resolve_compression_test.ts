import assert from "node:assert/strict";
import { encoderBytes } from "../http/compress/codec_memory.ts";
import { formatConfigWarning } from "./errors.ts";
import { loadConfigText } from "./load.ts";
import { configOf, errorsOf, FILE, MINIMAL, yaml } from "./test_helpers.ts";

const MIB = 1024 * 1024;
const WELCOME = "welcome@internal";

/** The warnings of a valid snippet, formatted as `check` prints them. */
async function warningsOf(text: string): Promise<string[]> {
  const result = await loadConfigText(text, FILE);
  assert.ok(result.ok, JSON.stringify(result));
  return result.warnings.map(formatConfigWarning);
}

/** "~N MiB" as the messages write an encoder's size. */
function mib(bytes: number): string {
  return bytes >= 10 * MIB ? String(Math.round(bytes / MIB)) : (bytes / MIB).toFixed(1);
}

Deno.test("compression.max_memory is 32 MiB per worker unless set, and the defaults fit it without a word", async () => {
  assert.equal((await configOf(MINIMAL)).compressionMemory, 32 * MIB);
  assert.deepEqual(await warningsOf(MINIMAL), []);
  const set = await configOf(
    MINIMAL + yaml`
    compression: { max_memory: 256MiB }
  `,
  );
  assert.equal(set.compressionMemory, 256 * MIB);
});

Deno.test("a level whose one encoder is larger than compression.max_memory is an error where the level is written, naming what would fit", async () => {
  const zstd19 = encoderBytes("zstd", 19);
  assert.ok(zstd19 > 32 * MIB, "zstd 19 is larger than the default budget");
  assert.deepEqual(
    await errorsOf(
      MINIMAL + yaml`
      compression:
        levels: { zstd: 19 }
    `,
    ),
    [
      `5:19 compression.levels.zstd: zstd level 19 holds ~${mib(zstd19)} MiB for each response ` +
      `it compresses, more than compression.max_memory (32 MiB per worker): no response would ` +
      `be compressed with it; lower the level, or raise compression.max_memory to at least ` +
      `${Math.ceil(zstd19 / MIB)}MiB`,
    ],
  );
  // With the room it asks for, it loads (warned: one at a time is few).
  const enough = MINIMAL + yaml`
    compression:
      levels: { zstd: 19 }
      max_memory: ${Math.ceil(zstd19 / MIB)}MiB
  `;
  assert.equal((await configOf(enough)).compression?.levels.zstd, 19);
  assert.match((await warningsOf(enough)).join("\n"), /holds 1 of them at once/);
});

Deno.test("a route's own level is checked where the route writes it; inherited ones are not repeated", async () => {
  const br9 = encoderBytes("br", 9);
  assert.ok(br9 > 32 * MIB, "brotli 9 is larger than the default budget");
  const errors = await errorsOf(
    MINIMAL + yaml`
    routes:
      - service: ${WELCOME}
      - service: ${WELCOME}
        match: { path: /slow }
        compression: { levels: { br: 9 } }
      - service: ${WELCOME}
        match: { path: /gzip }
        compression: { codecs: [gzip], levels: { br: 9 } }
  `,
  );
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0], /^8:34 routes\[1\]\.compression\.levels\.br: br level 9 holds/);
});

Deno.test("a max_memory too small for a default level is an error at max_memory", async () => {
  const errors = await errorsOf(
    MINIMAL + yaml`
    compression: { max_memory: 1MiB }
  `,
  );
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(
    errors[0],
    /^4:28 compression\.max_memory: br level 4 holds ~\d\.\d MiB for each response it compresses, more than compression\.max_memory \(1\.0 MiB per worker\)/,
  );
});

Deno.test("a level the budget holds only a few of at once is a warning with file:line:col", async () => {
  const br7 = encoderBytes("br", 7);
  const fit = Math.floor(32 * MIB / br7);
  assert.ok(fit >= 1 && fit < 8, `brotli 7 fits ${fit} times in 32 MiB`);
  assert.deepEqual(
    await warningsOf(
      MINIMAL + yaml`
      compression:
        levels: { br: 7 }
    `,
    ),
    [
      `${FILE}:5:13 compression.levels.br: warning: br level 7 holds ~${
        mib(br7)
      } MiB for each response ` +
      `it compresses: compression.max_memory (32 MiB per worker) holds ${fit} of them at once, ` +
      `and responses past that go out uncompressed; lower the level, or raise ` +
      `compression.max_memory to ${Math.ceil(br7 * 8 / MIB)}MiB`,
    ],
  );
});

Deno.test("a max_memory that cannot hold a brotli decoder is a warning", async () => {
  const warnings = await warningsOf(
    MINIMAL + yaml`
    compression: { max_memory: 17MiB }
  `,
  );
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(
    warnings[0],
    /compression\.max_memory: warning: compression\.max_memory \(17 MiB per worker\) cannot hold a brotli decoder \(~19 MiB for the largest window\)/,
  );
});
