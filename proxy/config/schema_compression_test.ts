import assert from "node:assert/strict";
import { configOf, errorsOf, MINIMAL, yaml } from "./test_helpers.ts";

const WELCOME = "welcome@internal";

Deno.test("route compression keys not written take the top-level values, one by one", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    compression:
      codecs: [gzip, br]
      levels: { gzip: 6, br: 5 }
      min_size: 2KiB
      types: [text/html, application/*+json]
    routes:
      - service: ${WELCOME}
      - service: ${WELCOME}
        match: { path: /a }
        compression: { codecs: zstd, levels: { zstd: 7 }, types: [TEXT/*] }
      - service: ${WELCOME}
        match: { path: /b }
        compression: false
      - service: ${WELCOME}
        match: { path: /c }
        compression: { enabled: false }
  `,
  );
  const [plain, a, b, c] = config.routes;
  const top = {
    codecs: ["gzip", "br"],
    levels: { gzip: 6, br: 5, zstd: 1 },
    minSize: 2048,
    types: ["text/html", "application/*+json"],
  };
  assert.deepEqual(config.compression, top);
  assert.deepEqual(plain.compression, top);
  assert.deepEqual(a.compression, {
    codecs: ["zstd"],
    levels: { gzip: 6, br: 5, zstd: 7 },
    minSize: 2048,
    types: ["text/*"],
  });
  assert.equal(b.compression, null);
  assert.equal(c.compression, null);
});

Deno.test("compression off at the top level can be turned on for one route", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    compression: { enabled: false }
    routes:
      - service: ${WELCOME}
      - service: ${WELCOME}
        match: { path: /on }
        compression: { enabled: true, min_size: 0 }
  `,
  );
  const [off, on] = config.routes;
  assert.equal(config.compression, null);
  assert.equal(off.compression, null);
  assert.equal(on.compression?.minSize, 0);
  assert.deepEqual(on.compression?.codecs, ["zstd", "br", "gzip"]);
});

Deno.test("compression values are checked with messages that say what is allowed", async () => {
  assert.deepEqual(
    await errorsOf(
      MINIMAL + yaml`
      compression:
        codecs: [gzip, deflate]
        levels: { br: 12 }
        types: [application/grpc, "image/*", "*/*", text]
      routes:
        - service: ${WELCOME}
          compression: true
    `,
    ),
    [
      `5:18 compression.codecs[1]: expected one of "zstd", "br", "gzip", found "deflate"`,
      `6:17 compression.levels.br: expected an integer from 0 to 11, found 12`,
      `7:11 compression.types[0]: gRPC messages carry their own compression: remove "application/grpc"`,
      `7:40 compression.types[2]: expected a media type like "text/html", "text/*" or "application/*+json", found "*/*"`,
      `7:47 compression.types[3]: expected a media type like "text/html", "text/*" or "application/*+json", found "text"`,
      `10:18 routes[0].compression: expected false or a map, found true`,
    ],
  );
});
