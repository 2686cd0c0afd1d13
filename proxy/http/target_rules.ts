/**
 * What a request target's path may hold, beyond its characters (those are the front ends'): no
 * fragment, percent-encoding well formed, no dot segment with parameters, and neither a raw
 * backslash nor the encoded characters that decode into something else than data (a path
 * separator, a query, a second round of decoding) unless the route allows them. Each is a way for
 * Gatehouse and an upstream to read one path two ways: a route that protects "/admin" would not
 * see "/admin#x", "/admin%2Fx", "/admin%252F", "/x/..;/admin" or "/x\..\admin", while an
 * upstream that strips fragments, decodes once more, climbs on "..;" or parses URLs as browsers
 * do (backslash as "/") serves "/admin". See docs/security.md.
 *
 * Tested by framing_h1_test.ts, framing_h2_test.ts and target_rules_test.ts.
 */
import type { EncodedChar } from "../config/types.ts";
import { Rejection } from "../proto/rejection.ts";

/**
 * Refuses a fragment anywhere in `target` (RFC 9112 3.2: a request target has none; clients keep
 * it) and a "%" in its path not followed by two hex digits (RFC 3986 2.1).
 */
export function targetProblem(target: string): Rejection | null {
  if (target.indexOf("#") >= 0) {
    return new Rejection(400, "bad_target", "a fragment (#) is never part of a request target");
  }
  let i = target.indexOf("%");
  if (i < 0) return null;
  const q = target.indexOf("?");
  const end = q < 0 ? target.length : q;
  for (; i >= 0 && i < end; i = target.indexOf("%", i + 1)) {
    if (i + 2 >= end || !isHex(target.charCodeAt(i + 1)) || !isHex(target.charCodeAt(i + 2))) {
      return new Rejection(400, "bad_target", `"%" in the path is not followed by two hex digits`);
    }
  }
  return null;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

const DOT_PARAMETERS = /\/\.\.?;/;

/** The encoded characters refused in a path unless allowed; %00 (null) is refused always. */
const AMBIGUOUS: ReadonlyMap<string, EncodedChar | null> = new Map([
  ["2F", "slash"],
  ["5C", "backslash"],
  ["3B", "semicolon"],
  ["25", "percent"],
  ["3F", "question_mark"],
  ["23", "hash"],
  ["00", null],
]);

/**
 * Refuses, in `path` (normalised: dot segments resolved, every escape upper case, see router.ts),
 * a dot segment with parameters ("/..;/": Java servers climb on it, others take it as a name),
 * a raw backslash unless the route allows "backslash" (the WHATWG URL parser of browsers,
 * Deno.serve and Node's `URL` reads it as "/": "/x\..\admin" is "/admin" to them, not to
 * routing), and an encoded character of AMBIGUOUS that the route's `allow_encoded` does not list.
 */
export function pathProblem(path: string, allowed: readonly EncodedChar[]): Rejection | null {
  if (path.indexOf(";") >= 0 && DOT_PARAMETERS.test(path)) {
    return new Rejection(400, "bad_target", `a "." or ".." segment with ";" parameters is refused`);
  }
  if (path.indexOf("\\") >= 0 && !allowed.includes("backslash")) {
    return new Rejection(
      400,
      "bad_target",
      `a backslash (\\) in the path is refused: URL parsers read it as "/"; ` +
        `the route's allow_encoded may list "backslash" if its upstream reads it as data`,
    );
  }
  for (let i = path.indexOf("%"); i >= 0; i = path.indexOf("%", i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    const name = AMBIGUOUS.get(hex);
    if (name === undefined || (name !== null && allowed.includes(name))) continue;
    const what = name === null
      ? "an encoded null (%00) in the path is refused"
      : `an encoded ${name.replace("_", " ")} (%${hex}) in the path is refused: ` +
        `the route's allow_encoded may list "${name}" if its upstream reads it as data`;
    return new Rejection(400, "encoded_path", what);
  }
  return null;
}
