/** Byte-array helpers shared by the engine, TLS code and tests.
 *
 * Tested by proto/h1/body_test.ts and http/upgrade_wire_test.ts.
 */

/** `parts` joined into one new array; `size` is their total length when the caller knows it. */
export function concatBytes(
  parts: readonly Uint8Array[],
  size = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** `parts` as one array: the only part itself (no copy), else a new joined array. */
export function joinBytes(parts: readonly Uint8Array[], size?: number): Uint8Array {
  return parts.length === 1 ? parts[0] : concatBytes(parts, size);
}
