/**
 * Seeded mutation of byte strings (one char per byte) for fuzz tests: the same seed gives the
 * same inputs, so a failure names the seed and case that reproduce it.
 *
 * ```ts
 * const rng = seeded(42);
 * const input = mutate(rng, ["GET / HTTP/1.1\r\nHost: a\r\n\r\n"], ["\r\n", ":"]);
 * ```
 *
 * @module
 */

/** A generator of numbers in [0, 1) from a 32-bit seed (mulberry32). */
export type Rng = () => number;

export function seeded(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function below(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[below(rng, items.length)];
}

type Mutator = (rng: Rng, s: string, seeds: readonly string[], words: readonly string[]) => string;

const at = (rng: Rng, s: string) => below(rng, s.length + 1);

/** Line starts in `s` (after each LF), the start of `s` included. */
function lineStarts(s: string): number[] {
  const starts = [0];
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

const MUTATORS: readonly Mutator[] = [
  // a dictionary word inserted anywhere
  (rng, s, _seeds, words) => {
    const i = at(rng, s);
    return s.slice(0, i) + pick(rng, words) + s.slice(i);
  },
  // a dictionary word at the start of a line
  (rng, s, _seeds, words) => {
    const i = pick(rng, lineStarts(s));
    return s.slice(0, i) + pick(rng, words) + s.slice(i);
  },
  // one to four bytes removed
  (rng, s) => {
    const i = at(rng, s);
    return s.slice(0, i) + s.slice(i + 1 + below(rng, 4));
  },
  // one byte replaced by any byte
  (rng, s) => {
    const i = below(rng, s.length);
    return s.slice(0, i) + String.fromCharCode(below(rng, 256)) + s.slice(i + 1);
  },
  // a line repeated
  (rng, s) => {
    const starts = lineStarts(s);
    const k = below(rng, starts.length);
    const end = k + 1 < starts.length ? starts[k + 1] : s.length;
    const line = s.slice(starts[k], end);
    return s.slice(0, end) + line + s.slice(end);
  },
  // a span's letter case flipped
  (rng, s) => {
    const i = at(rng, s);
    const j = Math.min(s.length, i + 1 + below(rng, 12));
    const span = s.slice(i, j);
    const flipped = span === span.toUpperCase() ? span.toLowerCase() : span.toUpperCase();
    return s.slice(0, i) + flipped + s.slice(j);
  },
  // another seed appended (pipelining) or spliced in
  (rng, s, seeds) => {
    const other = pick(rng, seeds);
    return rng() < 0.5 ? s + other : s.slice(0, at(rng, s)) + other.slice(below(rng, other.length));
  },
  // a digit string changed (lengths, chunk sizes)
  (rng, s) => {
    const digits = [...s.matchAll(/[0-9a-fA-F]+/g)];
    if (digits.length === 0) return s;
    const m = pick(rng, digits);
    const by = pick(rng, ["0", "00", "-1", "1", "ffffffff", "18446744073709551617", "+5", " 5"]);
    return s.slice(0, m.index) + by + s.slice(m.index! + m[0].length);
  },
];

/** One of `seeds` with one to four mutations drawn from the mutators above and `words`. */
export function mutate(rng: Rng, seeds: readonly string[], words: readonly string[]): string {
  let s = pick(rng, seeds);
  const rounds = 1 + below(rng, 4);
  for (let r = 0; r < rounds; r++) s = pick(rng, MUTATORS)(rng, s, seeds, words);
  return s;
}
