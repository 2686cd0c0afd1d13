/**
 * Accept-Encoding (RFC 9110 §12.5.3): parsing with q-values, and choosing a coding.
 *
 * @module
 */
import type { Codec } from "../../config/types.ts";

/** A parsed Accept-Encoding field: q-value per coding (lowercase), and for `*`. */
export interface AcceptEncoding {
  readonly q: ReadonlyMap<string, number>;
  /** q of `*` (the codings not listed), or null when absent. */
  readonly star: number | null;
}

/** Parses Accept-Encoding; null when the request had none. Malformed members are skipped. */
export function parseAcceptEncoding(value: string | null): AcceptEncoding | null {
  if (value === null) return null;
  const q = new Map<string, number>();
  let star: number | null = null;
  for (const member of value.split(",")) {
    const [rawCoding, ...params] = member.split(";");
    let coding = rawCoding.trim().toLowerCase();
    if (coding === "") continue;
    if (coding === "x-gzip") coding = "gzip";
    let weight = 1;
    for (const param of params) {
      const eq = param.indexOf("=");
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "q") continue;
      const parsed = qValue(param.slice(eq + 1).trim());
      if (parsed !== null) weight = parsed;
    }
    if (coding === "*") star = weight;
    else q.set(coding, Math.min(weight, q.get(coding) ?? 1));
  }
  return { q, star };
}

/** RFC 9110 qvalue: "0", "1", "0.xxx", "1.000"; null when malformed. */
function qValue(text: string): number | null {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return null;
  return Number(text);
}

/** The client's q for `coding` ("identity" included); 0 means not acceptable. */
export function weightOf(accept: AcceptEncoding, coding: string): number {
  const listed = accept.q.get(coding);
  if (listed !== undefined) return listed;
  if (coding === "identity") return accept.star === 0 ? 0 : IDENTITY_DEFAULT;
  return accept.star ?? 0;
}

/**
 * q given to an unlisted identity: acceptable, but below any coding the client lists with a
 * q above zero (so "gzip;q=0.1" still gets gzip).
 */
const IDENTITY_DEFAULT = 0.0001;

/**
 * The coding to send: the one among `offered` (server preference order, which breaks ties)
 * that the client weights highest, or "identity" when none beats identity. Null when nothing
 * is acceptable, identity included (`identity;q=0` or `*;q=0` with no usable coding).
 */
export function negotiate(
  accept: AcceptEncoding,
  offered: readonly Codec[],
): Codec | "identity" | null {
  let best: Codec | null = null;
  let bestQ = 0;
  for (const codec of offered) {
    const q = weightOf(accept, codec);
    if (q > bestQ) {
      best = codec;
      bestQ = q;
    }
  }
  const identity = weightOf(accept, "identity");
  if (best !== null && bestQ >= identity) return best;
  return identity > 0 ? "identity" : best;
}
