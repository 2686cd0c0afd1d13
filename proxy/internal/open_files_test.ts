import assert from "node:assert/strict";

const OPEN_FILES = new URL("./open_files.ts", import.meta.url).href;
const EXCHANGE = new URL("../proto/exchange.ts", import.meta.url).href;

/**
 * Runs `body` in a child Deno under an open-file limit of 64 (soft and hard), after `fill()`
 * took every descriptor left, and returns what it printed as JSON.
 */
async function underExhaustion(body: string): Promise<Record<string, unknown>> {
  const script = `
    import { openFileCount, openFileLimit, outOfFiles } from "${OPEN_FILES}";
    import { connectError } from "${EXCHANGE}";
    const held = [];
    const fill = () => {
      try { for (;;) held.push(Deno.openSync("/dev/null")); } catch { /* every one taken */ }
    };
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const out = {};
    ${body}
    console.log(JSON.stringify(out));
  `;
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", `ulimit -n 64 && exec "$@"`, "child", Deno.execPath(), "eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

Deno.test("open files: the limit, the count (the limit when none is left), and whether one more can be opened", async () => {
  const out = await underExhaustion(`
    out.limit = openFileLimit();
    out.before = outOfFiles();
    const count = openFileCount();
    fill();
    out.full = outOfFiles();
    out.countWhenFull = openFileCount();
    held.pop().close();
    out.oneFree = outOfFiles();
    out.countGrew = openFileCount() > count;
  `);
  assert.deepEqual(out, {
    limit: { soft: 64, hard: 64 },
    before: false,
    full: true,
    countWhenFull: 64,
    oneFree: false,
    countGrew: true,
  });
});

Deno.test("open files: a connect that fails while no descriptor is left is Gatehouse's own failure", async () => {
  const out = await underExhaustion(`
    fill();
    for (const host of ["127.0.0.1", "localhost"]) {
      try {
        (await Deno.connect({ hostname: host, port })).close();
        out[host] = "connected";
      } catch (err) {
        out[host] = connectError(err).local;
      }
    }
    for (const f of held.splice(0)) f.close();
    listener.close();
    try {
      await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (err) {
      out.refused = connectError(err).local;
    }
  `);
  // By address, socket() fails with EMFILE; by name, the lookup already fails ("Name or service
  // not known"): both local. A refusal with descriptors to spare is the server's.
  assert.deepEqual(out, { "127.0.0.1": true, localhost: true, refused: false });
});
