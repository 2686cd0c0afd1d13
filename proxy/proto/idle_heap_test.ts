import assert from "node:assert/strict";

const SCRIPT = new URL("../testing/idle_heap.ts", import.meta.url).pathname;

/** Bytes per idle connection (heap and buffers) of each engine and of a bare pending read. */
async function measure(): Promise<{ h1: number; h2: number; least: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", SCRIPT],
    stdin: "null",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

// Measured on Deno 2.9.6, over a bare pending read (3,505 bytes): HTTP/1.1 2,827 bytes more
// (3,854 while the head reader and its caller stayed suspended on the idle read), HTTP/2 5,884
// (9,823 while every connection kept two 1 KiB write buffers and a 2 KiB read buffer, 6,360 while
// its reader went through Deno's `Conn.read`).
Deno.test("idle keep-alive connections hold no more than the engines need to wait", async () => {
  const { h1, h2, least } = await measure();
  assert.ok(
    h1 - least < 3200,
    `an idle HTTP/1.1 connection holds ${h1} bytes, ${h1 - least} more than a bare read`,
  );
  assert.ok(
    h2 - least < 6200,
    `an idle HTTP/2 connection holds ${h2} bytes, ${h2 - least} more than a bare read`,
  );
});
