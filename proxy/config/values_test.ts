import assert from "node:assert/strict";
import { message, value } from "./test_helpers.ts";
import {
  autoOrInt,
  bool,
  disabled,
  dur,
  int,
  name,
  oneOf,
  size,
  sizeOrOff,
  str,
  text,
} from "./values.ts";

Deno.test("durations: units, compounds and bare seconds resolve to milliseconds", () => {
  const d = dur();
  assert.equal(value(d, "500ms"), 500);
  assert.equal(value(d, "30s"), 30_000);
  assert.equal(value(d, "5m"), 300_000);
  assert.equal(value(d, "1h"), 3_600_000);
  assert.equal(value(d, "1m30s"), 90_000);
  assert.equal(value(d, "1.5s"), 1500);
  assert.equal(value(d, 30), 30_000);
  assert.equal(value(d, 2.5), 2500);
  assert.equal(value(d, "24h"), 86_400_000);
});

Deno.test("durations: bad syntax says what was expected and what was found", () => {
  const d = dur();
  assert.equal(message(d, "30 sec"), `expected a duration like "30s" or "500ms", found "30 sec"`);
  assert.equal(message(d, "5d"), `expected a duration like "30s" or "500ms", found "5d"`);
  assert.equal(message(d, -1), `expected a duration like "30s" or "500ms", found -1`);
  assert.equal(message(d, true), `expected a duration like "30s" or "500ms", found true`);
  assert.equal(message(d, null), `expected a duration like "30s" or "500ms", found nothing`);
  assert.equal(message(d, "off"), `expected a duration like "30s" or "500ms", found "off"`);
  assert.equal(message(d, 0), `expected a duration from 1ms to 24h, found 0`);
  assert.equal(message(d, "25h"), `expected a duration from 1ms to 24h, found "25h"`);
});

Deno.test('durations with off: 0 and "off" mean 0', () => {
  const d = dur({ off: true });
  assert.equal(value(d, "off"), 0);
  assert.equal(value(d, 0), 0);
  assert.equal(value(d, "0s"), 0);
  assert.equal(value(d, "10m"), 600_000);
  assert.equal(
    message(d, "never"),
    `expected a duration like "30s" or "500ms" (or "off"), found "never"`,
  );
});

Deno.test("sizes: binary and decimal units and bare bytes", () => {
  const s = size("1B", "2GiB");
  assert.equal(value(s, "512B"), 512);
  assert.equal(value(s, "16KiB"), 16_384);
  assert.equal(value(s, "10MiB"), 10 * 1024 * 1024);
  assert.equal(value(s, "1GiB"), 1024 ** 3);
  assert.equal(value(s, "16KB"), 16_000);
  assert.equal(value(s, "10MB"), 10_000_000);
  assert.equal(value(s, "1GB"), 1e9);
  assert.equal(value(s, 4096), 4096);
  assert.equal(value(s, "1.5KiB"), 1536);
});

Deno.test("sizes: bad syntax and out of range are refused", () => {
  const s = size("1KiB", "1MiB");
  assert.equal(message(s, "16kb"), `expected a size like "16KiB" or "10MiB", found "16kb"`);
  assert.equal(message(s, "16 KiB"), `expected a size like "16KiB" or "10MiB", found "16 KiB"`);
  assert.equal(message(s, 1.5), `expected a size like "16KiB" or "10MiB", found 1.5`);
  assert.equal(message(s, -1), `expected a size like "16KiB" or "10MiB", found -1`);
  assert.equal(message(s, "2MiB"), `expected a size from 1KiB to 1MiB, found "2MiB"`);
  assert.equal(message(s, 512), `expected a size from 1KiB to 1MiB, found 512`);
});

Deno.test('sizes with off: 0 and "off" mean no limit (null)', () => {
  const s = sizeOrOff();
  assert.equal(value(s, "off"), null);
  assert.equal(value(s, 0), null);
  assert.equal(value(s, "10MiB"), 10 * 1024 * 1024);
  assert.equal(
    message(s, "big"),
    `expected a size like "16KiB" or "10MiB" (or "off"), found "big"`,
  );
});

Deno.test("integers, booleans and choices", () => {
  const weight = int(1, 1000);
  assert.equal(value(weight, 3), 3);
  assert.equal(message(weight, 0), "expected an integer from 1 to 1000, found 0");
  assert.equal(message(weight, 1.5), "expected an integer from 1 to 1000, found 1.5");
  assert.equal(message(weight, "3"), `expected an integer from 1 to 1000, found "3"`);
  assert.equal(value(bool(), false), false);
  assert.equal(message(bool(), "yes"), `expected true or false, found "yes"`);
  const balancing = oneOf(["round_robin", "least_requests"]);
  assert.equal(value(balancing, "least_requests"), "least_requests");
  assert.equal(
    message(balancing, "roundrobin"),
    `expected one of "round_robin", "least_requests", found "roundrobin" (did you mean "round_robin"?)`,
  );
  assert.equal(value(disabled(), false), null);
  assert.equal(message(disabled(), true), "expected false or a map, found true");
});

Deno.test("strings accept numbers as written, check patterns and normalise", () => {
  assert.equal(value(str(), 2, "2"), "2");
  assert.equal(value(str(), 1.10, "1.10"), "1.10");
  assert.equal(message(str(), ""), `expected a string, found ""`);
  assert.equal(message(str(), false), "expected a string, found false");
  const lower = text({ expected: "a word", pattern: /^[A-Za-z]+$/, map: (s) => s.toLowerCase() });
  assert.equal(value(lower, "HeLLo"), "hello");
  assert.equal(message(lower, "a b"), `expected a word, found "a b"`);
  const entrypoint = name(/^[a-z]+$/, "an entrypoint name", "lowercase letters");
  assert.equal(
    message(entrypoint, "Web"),
    `expected an entrypoint name (lowercase letters), found "Web"`,
  );
});

Deno.test('"auto" or a count: auto, integers in range, and what was found otherwise', () => {
  const w = autoOrInt(1, 8);
  assert.equal(value(w, "auto"), "auto");
  assert.equal(value(w, 1), 1);
  assert.equal(value(w, 8), 8);
  assert.equal(message(w, 0), `expected "auto" or an integer from 1 to 8, found 0`);
  assert.equal(message(w, 9), `expected "auto" or an integer from 1 to 8, found 9`);
  assert.equal(message(w, "all"), `expected "auto" or an integer from 1 to 8, found "all"`);
  assert.equal(message(w, 1.5), `expected "auto" or an integer from 1 to 8, found 1.5`);
  const c = autoOrInt(0, 100);
  assert.equal(value(c, 0), 0);
  assert.equal(message(c, -1), `expected "auto" or an integer from 0 to 100, found -1`);
});
