/**
 * Traefik router rules (`Host(\`a.example\`) && PathPrefix(\`/api\`)`), parsed by their grammar
 * and translated into Gatehouse route matches. The grammar, as Traefik v2 and v3 accept it:
 *
 * ```text
 * rule    = or
 * or      = and { "||" and }
 * and     = not { "&&" not }
 * not     = "!" not | primary
 * primary = "(" rule ")" | matcher
 * matcher = NAME "(" [ string { "," string } ] ")"      strings in `backticks` or "quotes"
 * ```
 *
 * The translation brings the rule to a disjunction of conjunctions, then gives one route match
 * per distinct (path, methods, headers), with the hosts of every term that shares them: so
 * `Host(a) || Host(b)` is one route for two hosts. What Gatehouse cannot express (negation,
 * regular expressions, exact paths, queries, client IPs) is refused with a reason.
 *
 * Tested by traefik_rule_test.ts.
 *
 * @module
 */

/** A node of a parsed rule. */
export type Rule =
  | { readonly type: "or" | "and"; readonly items: readonly Rule[] }
  | { readonly type: "not"; readonly item: Rule }
  | { readonly type: "call"; readonly name: string; readonly args: readonly string[] };

/** The rule could not be parsed; `column` is 1-based. */
export class RuleSyntaxError extends Error {
  constructor(readonly column: number, what: string) {
    super(`Cannot parse the rule at column ${column}: ${what}`);
  }
}

type Token =
  | { kind: "name" | "string"; text: string; at: number }
  | { kind: "(" | ")" | "," | "&&" | "||" | "!" | "end"; text: string; at: number };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === "," || c === "!") {
      out.push({ kind: c, text: c, at: i });
      i++;
    } else if (text.startsWith("&&", i) || text.startsWith("||", i)) {
      const op = text.slice(i, i + 2) as "&&" | "||";
      out.push({ kind: op, text: op, at: i });
      i += 2;
    } else if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end < 0) throw new RuleSyntaxError(i + 1, "a `backtick` string is not closed");
      out.push({ kind: "string", text: text.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        value += text[j++];
      }
      if (j >= text.length) throw new RuleSyntaxError(i + 1, 'a "quoted" string is not closed');
      out.push({ kind: "string", text: value, at: i });
      i = j + 1;
    } else if (/[A-Za-z]/.test(c)) {
      const name = /^[A-Za-z][A-Za-z0-9]*/.exec(text.slice(i))![0];
      out.push({ kind: "name", text: name, at: i });
      i += name.length;
    } else {
      throw new RuleSyntaxError(i + 1, `unexpected ${JSON.stringify(c)}`);
    }
  }
  out.push({ kind: "end", text: "the end", at: text.length });
  return out;
}

/**
 * Bounds on a rule, which comes from a container's labels: a rule nested deeper would overflow the
 * parser's stack, and one longer makes the translation to routes slow (it is quadratic in a chain
 * of `&&`): 16 KiB of `&&` take ~40 ms, 400 KiB minutes.
 */
const MAX_RULE_LENGTH = 16 * 1024;
const MAX_DEPTH = 64;

/** Parses a Traefik rule; throws RuleSyntaxError. */
export function parseRule(text: string): Rule {
  if (text.length > MAX_RULE_LENGTH) {
    throw new RuleSyntaxError(
      MAX_RULE_LENGTH + 1,
      `the rule is longer than ${MAX_RULE_LENGTH} characters`,
    );
  }
  const tokens = tokenize(text);
  let pos = 0;
  let depth = 0;
  const deeper = () => {
    if (++depth > MAX_DEPTH) {
      throw new RuleSyntaxError(peek().at + 1, `the rule nests deeper than ${MAX_DEPTH} levels`);
    }
  };
  const peek = () => tokens[pos];
  const expect = (kind: Token["kind"], what: string): Token => {
    const t = tokens[pos];
    if (t.kind !== kind) {
      throw new RuleSyntaxError(t.at + 1, `expected ${what}, found ${describe(t)}`);
    }
    pos++;
    return t;
  };
  const binary = (op: "||" | "&&", next: () => Rule): Rule => {
    const items = [next()];
    while (peek().kind === op) {
      pos++;
      items.push(next());
    }
    return items.length === 1 ? items[0] : { type: op === "||" ? "or" : "and", items };
  };
  const or = (): Rule => binary("||", and);
  const and = (): Rule => binary("&&", not);
  const not = (): Rule => {
    if (peek().kind !== "!") return primary();
    deeper();
    pos++;
    const item = not();
    depth--;
    return { type: "not", item };
  };
  const primary = (): Rule => {
    if (peek().kind === "(") {
      deeper();
      pos++;
      const inner = or();
      expect(")", `")"`);
      depth--;
      return inner;
    }
    const name = expect("name", "a matcher like Host(`example.com`)").text;
    expect("(", `"(" after ${name}`);
    const args: string[] = [];
    if (peek().kind !== ")") {
      args.push(expect("string", "a `string`").text);
      while (peek().kind === ",") {
        pos++;
        args.push(expect("string", "a `string`").text);
      }
    }
    expect(")", `")" or "," in ${name}(...)`);
    return { type: "call", name, args };
  };
  const rule = or();
  expect("end", "&&, || or the end of the rule");
  return rule;
}

function describe(t: Token): string {
  return t.kind === "end" ? "the end" : JSON.stringify(t.text);
}

type Call = Extract<Rule, { type: "call" }>;
/** Matchers whose several arguments mean "any of them" (Traefik v2). */
const MULTI = new Set(["Host", "HostHeader", "PathPrefix", "Method", "HostSNI"]);
const MAX_TERMS = 64;

/** The rule as a list of conjunctions of single-argument matchers, or why it cannot be. */
function disjunction(rule: Rule): Call[][] | string {
  switch (rule.type) {
    case "not":
      return "negation (!) has no Gatehouse equivalent";
    case "call":
      if (MULTI.has(rule.name) && rule.args.length > 1) {
        return rule.args.map((arg) => [{ ...rule, args: [arg] }]);
      }
      return [[rule]];
    case "or": {
      const out: Call[][] = [];
      for (const item of rule.items) {
        const terms = disjunction(item);
        if (typeof terms === "string") return terms;
        out.push(...terms);
      }
      return out.length > MAX_TERMS ? "the rule has too many alternatives" : out;
    }
    case "and": {
      let out: Call[][] = [[]];
      for (const item of rule.items) {
        const terms = disjunction(item);
        if (typeof terms === "string") return terms;
        out = out.flatMap((left) => terms.map((right) => [...left, ...right]));
        if (out.length > MAX_TERMS) return "the rule has too many alternatives";
      }
      return out;
    }
  }
}

/** One Gatehouse route match. */
export interface HttpMatch {
  /** Lowercase; empty means any host. */
  readonly hosts: readonly string[];
  readonly path: string;
  readonly methods: readonly string[];
  readonly headers: readonly (readonly [string, string])[];
}

/** One conjunction as a match; null when it can never match, a string when not expressible. */
function conjunction(
  calls: Call[],
): Omit<HttpMatch, "hosts"> & { hosts: string[] | null } | null | string {
  let hosts: string[] | null = null;
  let path = "/";
  let methods: string[] | null = null;
  const headers: [string, string][] = [];
  for (const call of calls) {
    const [arg, second] = call.args;
    const arity = (n: number) =>
      call.args.length === n ? undefined : `${call.name}() takes ${n} argument(s)`;
    switch (call.name) {
      case "Host":
      case "HostHeader": {
        const problem = arity(1);
        if (problem) return problem;
        const host = arg.toLowerCase();
        if (hosts !== null && !hosts.includes(host)) return null;
        hosts = [host];
        break;
      }
      case "PathPrefix": {
        const problem = arity(1);
        if (problem) return problem;
        if (!arg.startsWith("/")) return `PathPrefix(\`${arg}\`) does not start with "/"`;
        const prefix = arg.replace(/\/+$/, "") || "/";
        if (prefix.startsWith(path === "/" ? "/" : `${path}/`) || prefix === path) path = prefix;
        else if (!(path.startsWith(prefix === "/" ? "/" : `${prefix}/`))) return null;
        break;
      }
      case "Method": {
        const problem = arity(1);
        if (problem) return problem;
        const method = arg.toUpperCase();
        if (methods !== null && !methods.includes(method)) return null;
        methods = [method];
        break;
      }
      case "Header":
      case "Headers": {
        const problem = arity(2);
        if (problem) return problem;
        headers.push([arg.toLowerCase(), second]);
        break;
      }
      case "Path":
        return `Path(\`${arg ?? ""}\`) matches one exact path; Gatehouse routes match path ` +
          `prefixes: use PathPrefix`;
      default:
        return `${call.name}() has no Gatehouse equivalent`;
    }
  }
  return { hosts, path, methods: methods ?? [], headers };
}

/**
 * The route matches equivalent to `rule`, one per distinct path, methods and headers, or why
 * there are none.
 */
export function translateHttpRule(rule: Rule): HttpMatch[] | string {
  const terms = disjunction(rule);
  if (typeof terms === "string") return terms;
  const groups = new Map<string, { match: Omit<HttpMatch, "hosts">; hosts: Set<string> | null }>();
  for (const term of terms) {
    const match = conjunction(term);
    if (typeof match === "string") return match;
    if (match === null) continue;
    const key = JSON.stringify([match.path, match.methods.toSorted(), match.headers.toSorted()]);
    const group = groups.get(key) ?? { match, hosts: new Set<string>() };
    if (match.hosts === null) group.hosts = null;
    else for (const host of match.hosts) group.hosts?.add(host);
    groups.set(key, group);
  }
  if (groups.size === 0) {
    return "the rule can never match (it asks for two different values at once)";
  }
  return [...groups.values()].map(({ match, hosts }) => ({
    ...match,
    hosts: hosts === null ? [] : [...hosts],
  }));
}

/** The SNI names of a TCP rule (`HostSNI(\`*\`)`: none, the default route), or why not. */
export function translateTcpRule(rule: Rule): string[] | { problem: string } {
  const terms = disjunction(rule);
  if (typeof terms === "string") return { problem: terms };
  const names = new Set<string>();
  let any = false;
  for (const term of terms) {
    let sni: string | null = null;
    let never = false;
    for (const call of term) {
      if (call.name !== "HostSNI") {
        return { problem: `${call.name}() has no Gatehouse equivalent in a TCP rule` };
      }
      if (call.args.length !== 1) return { problem: "HostSNI() takes 1 argument" };
      const name = call.args[0].toLowerCase();
      if (name === "*") continue;
      if (sni !== null && sni !== name) never = true;
      sni = name;
    }
    if (never) continue;
    if (sni === null) any = true;
    else names.add(sni);
  }
  if (any) return [];
  if (names.size === 0) return { problem: "the rule can never match" };
  return [...names];
}
