import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { BatchSink, type LineOutput, SerialOutput } from "./log_sink.ts";

function record(text: string): LogRecord {
  return {
    category: ["test"],
    level: "info",
    message: [text],
    rawMessage: text,
    timestamp: Date.now(),
    properties: {},
  };
}

const lineOf = (r: LogRecord) => `${r.message[0]}\n`;

Deno.test("lines reach a real file whole and in order: ASCII, multi-byte, and lines over a buffer", async () => {
  const path = await Deno.makeTempFile();
  try {
    const file = await Deno.open(path, { write: true });
    const sink = new BatchSink(file, lineOf);
    const expected: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const text = i % 1000 === 7
        ? `${i} ${"é€😀".repeat(30_000)}` // 270,000 bytes: more than one buffer
        : `${i} ${i % 3 === 0 ? "grüße 👋" : "plain"} ${"x".repeat(i % 300)}`;
      expected.push(text);
      sink.add(record(text));
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await sink.close();
    file.close();
    assert.deepEqual((await Deno.readTextFile(path)).split("\n").slice(0, -1), expected);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("lines wait at most a moment before they are written", async () => {
  const writes: string[] = [];
  const out: LineOutput = {
    write: (p) => {
      writes.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
  };
  const sink = new BatchSink(out, lineOf);
  sink.add(record("first"));
  sink.add(record("second"));
  assert.deepEqual(writes, [], "written in a batch, not per line");
  const deadline = Date.now() + 1000;
  while (writes.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(writes, ["first\nsecond\n"]);
  await sink.close();
});

Deno.test("an output that cannot keep up loses lines beyond the bound, and says how many", async () => {
  let release!: () => void;
  const stalled = new Promise<void>((r) => release = r);
  const chunks: string[] = [];
  const out: LineOutput = {
    write: async (p) => {
      await stalled;
      chunks.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  const sink = new BatchSink(out, lineOf);
  const line = "y".repeat(1023);
  sink.add(record("head"));
  await new Promise((r) => setTimeout(r, 60)); // the first write starts and stalls
  const total = 20_000; // 20 MiB: beyond the 8 MiB that may wait
  for (let i = 0; i < total; i++) sink.add(record(line));
  release();
  await sink.close();
  const lines = chunks.join("").split("\n").slice(0, -1);
  const kept = lines.filter((l) => l === line).length;
  const note = lines.find((l) => l.includes("lines dropped"));
  assert.ok(kept > 7000 && kept < total, `kept ${kept} of ${total}`);
  assert.equal(lines[0], "head");
  assert.ok(note !== undefined, "the loss is reported");
  assert.equal(JSON.parse(note).msg, `log output too slow: ${total - kept} lines dropped`);
});

Deno.test("a serial output keeps concurrent batches whole when each write takes part of them", async () => {
  let written = "";
  // Like a pipe that takes at most 1000 bytes per write, one write per turn.
  const partial: LineOutput = {
    async write(p) {
      await new Promise((r) => setTimeout(r, 0));
      const n = Math.min(p.length, 1000);
      written += new TextDecoder().decode(p.subarray(0, n));
      return n;
    },
  };
  const batch = (who: string) =>
    new TextEncoder().encode(Array.from({ length: 300 }, (_, i) => `${who} ${i}\n`).join(""));
  const out = new SerialOutput(partial);
  const sizes = await Promise.all(["a", "b", "c"].map((who) => out.write(batch(who))));
  assert.deepEqual(sizes, ["a", "b", "c"].map((who) => batch(who).length));
  const expected = ["a", "b", "c"].map((who) => new TextDecoder().decode(batch(who))).join("");
  assert.equal(written, expected);
  await out.idle();
});

Deno.test("worker batches offered to a blocked pipe wait up to a bound; the rest are dropped and counted", async () => {
  const path = await Deno.makeTempFile();
  // A real pipe: `cat` copies it to a file, and is stopped so that the pipe fills and blocks.
  const cat = new Deno.Command("sh", {
    args: ["-c", `exec cat > "$0"`, path],
    stdin: "piped",
  }).spawn();
  const writer = cat.stdin.getWriter();
  const pipe: LineOutput = { write: (p) => writer.write(p).then(() => p.length) };
  try {
    cat.kill("SIGSTOP");
    const out = new SerialOutput(pipe);
    const line = "z".repeat(1023) + "\n";
    const batch = new TextEncoder().encode(line.repeat(64)); // 64 KiB, 64 lines
    const total = 400; // 25 MiB: beyond the 8 MiB that may wait
    let most = 0;
    for (let i = 0; i < total; i++) {
      out.offer(batch);
      most = Math.max(most, out.queued);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(most <= 8 * 1024 * 1024, `${most} bytes waited`);
    cat.kill("SIGCONT");
    await waitForLoss(path);
    const lines = (await Deno.readTextFile(path)).split("\n").slice(0, -1);
    const kept = lines.filter((l) => l.length === 1023).length;
    assert.ok(kept >= 7000 && kept < total * 64, `kept ${kept} lines`);
    assert.equal(kept % 64, 0, "batches are kept or dropped whole");
    const note = JSON.parse(lines.at(-1)!);
    assert.equal(
      note.msg,
      `log output too slow: ${total * 64 - kept} lines from worker isolates dropped`,
    );
  } finally {
    cat.kill("SIGCONT");
    await writer.close().catch(() => {});
    await cat.status;
    await Deno.remove(path);
  }
});

/** Waits until the file at `path` ends with the line that reports the loss. */
async function waitForLoss(path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await Deno.readTextFile(path)).endsWith('dropped"}\n')) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for the loss to be reported");
    await new Promise((r) => setTimeout(r, 20));
  }
}
