/**
 * Resolving the `middlewares` section (each entry has exactly one kind, whose settings are
 * checked here) and the references to it from routes and entrypoints (unknown names, with a
 * guess; middlewares on entrypoints that cannot run them).
 *
 * Tested by resolve_middlewares_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { basicAuthSpec } from "./resolve_basic_auth.ts";
import { errorPagesSpec, forwardAuthSpec } from "./resolve_subrequests.ts";
import { didYouMean, quote, quoteList } from "./errors.ts";
import type { RawConfig } from "./schema.ts";
import type {
  HeaderOps,
  HeadersSpec,
  LimitKey,
  Middleware,
  MiddlewareSpec,
  RedirectSpec,
  RewriteSpec,
} from "./types.ts";

type RawMiddleware = RawConfig["middlewares"] extends ReadonlyMap<string, infer M> ? M : never;
type RawHeaders = NonNullable<RawMiddleware["headers"]>;
type RawRedirect = NonNullable<RawMiddleware["redirect"]>;
type RawRewrite = NonNullable<RawMiddleware["rewrite"]>;

/** Which of `keys` the raw object has. */
function present<T extends object>(raw: T, keys: readonly (keyof T & string)[]): string[] {
  return keys.filter((k) => raw[k] !== undefined);
}

/** `regex` and `replacement` come together (one written but invalid was reported already). */
function pairProblem(
  ctx: Context,
  raw: { regex?: string; replacement?: string },
): string | undefined {
  if ((raw.regex === undefined) === (raw.replacement === undefined)) return undefined;
  const missing = raw.regex === undefined ? "regex" : "replacement";
  if (ctx.written(ctx.path(raw, missing))) return undefined;
  return raw.regex === undefined
    ? `"replacement" needs a "regex"`
    : `"regex" needs a "replacement"`;
}

/**
 * A redirect whose target matches its own regex sends clients round forever: the replacement
 * with its captures filled in (empty, then "a") must not match again.
 */
function selfLoop(regex: string, replacement: string): string | undefined {
  const re = new RegExp(regex);
  for (const fill of ["", "a"]) {
    const sample = replacement.replace(/\$(\d+|<[^>]*>|\$)/g, (m) => (m === "$$" ? "$" : fill));
    if (re.test(sample)) return sample;
  }
  return undefined;
}

const REDIRECT_STATUSES = [301, 302, 303, 307, 308] as const;

function redirectSpec(ctx: Context, raw: RawRedirect): RedirectSpec {
  const path = ctx.path(raw);
  const forms = [
    present(raw, ["regex", "replacement"]),
    present(raw, ["scheme", "host", "port", "path"]),
    present(raw, ["www"]),
  ].filter((keys) => keys.length > 0);
  const status = REDIRECT_STATUSES.find((s) => s === raw.status);
  if (status === undefined) {
    ctx.error([...path, "status"], `a redirect's status is 301, 302, 303, 307 or 308`);
  }
  const spec = { kind: "redirect" as const, status: status ?? 302 };
  if (forms.length !== 1) {
    const message = forms.length === 0
      ? `give "regex" and "replacement", or any of "scheme", "host", "port", "path", or "www"`
      : `use one form: ${forms.map((keys) => keys.join("/")).join(" or ")}`;
    ctx.error(path, message);
    return { ...spec, to: { form: "www", www: "add" } };
  }
  const pair = pairProblem(ctx, raw);
  if (pair) ctx.error(path, pair);
  if (raw.www !== undefined) return { ...spec, to: { form: "www", www: raw.www } };
  if (raw.regex !== undefined && raw.replacement !== undefined) {
    const loop = selfLoop(raw.regex, raw.replacement);
    if (loop !== undefined) {
      ctx.error(
        [...path, "replacement"],
        `the redirect's target ${quote(loop)} matches its own regex: clients would be ` +
          `redirected forever; make the regex exclude what it redirects to`,
      );
    }
    return { ...spec, to: { form: "regex", regex: raw.regex, replacement: raw.replacement } };
  }
  return {
    ...spec,
    to: {
      form: "parts",
      scheme: raw.scheme ?? null,
      host: raw.host ?? null,
      port: raw.port ?? null,
      path: raw.path ?? null,
    },
  };
}

function rewriteSpec(ctx: Context, raw: RawRewrite): RewriteSpec {
  const path = ctx.path(raw);
  const forms = [
    present(raw, ["path"]),
    present(raw, ["regex", "replacement"]),
    present(raw, ["add_prefix"]),
    present(raw, ["strip_regex"]),
  ].filter((keys) => keys.length > 0);
  if (forms.length !== 1) {
    const message = forms.length === 0
      ? `give "path", "regex" and "replacement", "add_prefix" or "strip_regex"`
      : `use one form: ${forms.map((keys) => keys.join("/")).join(" or ")}`;
    ctx.error(path, message);
    return { kind: "rewrite", form: "path", path: "/" };
  }
  const pair = pairProblem(ctx, raw);
  if (pair) ctx.error(path, pair);
  if (raw.path !== undefined) return { kind: "rewrite", form: "path", path: raw.path };
  if (raw.add_prefix !== undefined) {
    return { kind: "rewrite", form: "add_prefix", prefix: raw.add_prefix.replace(/\/+$/, "") };
  }
  if (raw.strip_regex !== undefined) {
    return { kind: "rewrite", form: "strip_regex", regex: raw.strip_regex };
  }
  return {
    kind: "rewrite",
    form: "regex",
    regex: raw.regex ?? "",
    replacement: raw.replacement ?? "/",
  };
}

/** The kind keys, in the order the reference lists them. */
const KINDS = [
  "ip_allow",
  "ip_deny",
  "headers",
  "body_limit",
  "rate_limit",
  "in_flight_limit",
  "redirect",
  "rewrite",
  "basic_auth",
  "forward_auth",
  "errors",
  "retry",
] as const;
type Kind = typeof KINDS[number];

function headerOps(raw: RawHeaders["request"]): HeaderOps {
  return { set: [...raw.set], remove: raw.remove };
}

function headersSpec(ctx: Context, raw: RawHeaders): HeadersSpec {
  const c = raw.cors;
  if (c && c.allow_credentials && c.allow_origins.includes("*")) {
    ctx.error(
      ctx.path(c, "allow_credentials"),
      `Cannot allow credentials for origin "*": browsers refuse it; list the origins instead`,
    );
  }
  for (const ops of [raw.request, raw.response]) {
    ops.remove.forEach((name, i) => {
      if (ops.set.has(name)) {
        ctx.error(ctx.path(ops, "remove", i), `header ${quote(name)} is both set and removed`);
      }
    });
  }
  if (raw.request.set.has("host") || raw.request.remove.includes("host")) {
    ctx.error(
      ctx.path(raw.request),
      `Cannot change "host" here: set the service's "host" (preserve, upstream or a fixed value)`,
    );
  }
  const hsts = raw.hsts;
  return {
    kind: "headers",
    hsts: hsts
      ? { maxAge: hsts.max_age, includeSubdomains: hsts.include_subdomains, preload: hsts.preload }
      : null,
    contentTypeNosniff: raw.content_type_nosniff,
    frameOptions: raw.frame_options ?? null,
    referrerPolicy: raw.referrer_policy ?? null,
    contentSecurityPolicy: raw.content_security_policy ?? null,
    permissionsPolicy: raw.permissions_policy ?? null,
    cors: c
      ? {
        allowOrigins: c.allow_origins,
        allowMethods: c.allow_methods,
        allowHeaders: c.allow_headers,
        exposeHeaders: c.expose_headers,
        allowCredentials: c.allow_credentials,
        maxAge: c.max_age === undefined ? null : Math.ceil(c.max_age / 1000),
      }
      : null,
    request: headerOps(raw.request),
    response: headerOps(raw.response),
  };
}

function limitKey(text: string): LimitKey {
  if (text === "client_ip" || text === "route") return { from: text };
  return { from: "header", header: text.slice("header:".length) };
}

function spec(
  ctx: Context,
  rawConfig: RawConfig,
  kind: Kind,
  raw: RawMiddleware,
): MiddlewareSpec | Promise<MiddlewareSpec> {
  switch (kind) {
    case "ip_allow":
    case "ip_deny":
      return { kind, cidrs: raw[kind]! };
    case "headers":
      return headersSpec(ctx, raw.headers!);
    case "body_limit":
      return { kind, maxBytes: raw.body_limit! };
    case "rate_limit": {
      const r = raw.rate_limit!;
      return {
        kind,
        average: r.average,
        periodMs: r.period,
        burst: r.burst ?? r.average,
        key: limitKey(r.key),
        maxKeys: r.max_keys,
      };
    }
    case "in_flight_limit": {
      const r = raw.in_flight_limit!;
      return { kind, amount: r.amount, key: limitKey(r.key) };
    }
    case "redirect":
      return redirectSpec(ctx, raw.redirect!);
    case "rewrite":
      return rewriteSpec(ctx, raw.rewrite!);
    case "basic_auth":
      return basicAuthSpec(ctx, raw.basic_auth!);
    case "forward_auth":
      return forwardAuthSpec(ctx, rawConfig, raw.forward_auth!);
    case "errors":
      return errorPagesSpec(ctx, rawConfig, raw.errors!);
    case "retry": {
      const r = raw.retry!;
      return { kind, attempts: r.attempts, on: r.on, backoffMs: r.backoff };
    }
  }
}

/** Resolves every middleware; an entry without exactly one kind is an error. */
export async function middlewares(
  ctx: Context,
  raw: RawConfig,
): Promise<Record<string, Middleware>> {
  const out: Record<string, Middleware> = {};
  for (const [name, m] of raw.middlewares) {
    const path = ctx.path(m);
    const given = KINDS.filter((k) => m[k] !== undefined);
    if (given.length !== 1) {
      const problem = given.length === 0
        ? `middleware ${quote(name)} has no kind: give one of ${quoteList(KINDS)}`
        : `middleware ${quote(name)} has ${given.length} kinds (${quoteList(given)}): ` +
          `define one middleware per kind and list them in order`;
      ctx.error(path, problem, "key");
      continue;
    }
    out[name] = { ...await spec(ctx, raw, given[0], m), name, pos: ctx.locator.pos(path, "key") };
  }
  return out;
}

/** Checks the names a route or entrypoint lists at `path` against the section. */
export function checkReferences(
  ctx: Context,
  raw: RawConfig,
  names: readonly string[],
  path: readonly (string | number)[],
): void {
  names.forEach((name, i) => {
    if (raw.middlewares.has(name)) return;
    const known = raw.middlewares.size === 0
      ? `no middlewares are defined`
      : `known: ${[...raw.middlewares.keys()].join(", ")}`;
    ctx.error(
      [...path, i],
      `unknown middleware ${quote(name)}${didYouMean(name, raw.middlewares.keys())} (${known})`,
    );
  });
}
