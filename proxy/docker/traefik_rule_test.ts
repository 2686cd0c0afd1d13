import assert from "node:assert/strict";
import { parseRule, RuleSyntaxError, translateHttpRule, translateTcpRule } from "./traefik_rule.ts";
import { mutate, seeded } from "../testing/mutate.ts";

const http = (rule: string) => translateHttpRule(parseRule(rule));

Deno.test("the rule grammar: precedence of && over ||, parentheses, negation, both string quotes", () => {
  assert.deepEqual(parseRule("Host(`a`) || Host(`b`) && PathPrefix(`/x`)"), {
    type: "or",
    items: [
      { type: "call", name: "Host", args: ["a"] },
      {
        type: "and",
        items: [
          { type: "call", name: "Host", args: ["b"] },
          { type: "call", name: "PathPrefix", args: ["/x"] },
        ],
      },
    ],
  });
  assert.deepEqual(parseRule('!(Host("a\\"b") ) && Method(`GET`)'), {
    type: "and",
    items: [
      { type: "not", item: { type: "call", name: "Host", args: ['a"b'] } },
      { type: "call", name: "Method", args: ["GET"] },
    ],
  });
  assert.deepEqual(parseRule("Host(`a`, `b`)"), { type: "call", name: "Host", args: ["a", "b"] });
});

Deno.test("syntax errors name the column and what was expected", () => {
  const cases: [string, string][] = [
    [
      "Host(`a`",
      `Cannot parse the rule at column 9: expected ")" or "," in Host(...), found the end`,
    ],
    [
      "Host(`a`) &&",
      "Cannot parse the rule at column 13: expected a matcher like Host(`example.com`), found the end",
    ],
    [
      "Host(`a`) Host(`b`)",
      `Cannot parse the rule at column 11: expected &&, || or the end of the rule, found "Host"`,
    ],
    ["Host(`a)", "Cannot parse the rule at column 6: a `backtick` string is not closed"],
    ["Host(a)", `Cannot parse the rule at column 6: expected a \`string\`, found "a"`],
    ["Host(`a`) & Path(`/`)", `Cannot parse the rule at column 11: unexpected "&"`],
  ];
  for (const [rule, message] of cases) {
    assert.throws(() => parseRule(rule), (err: Error) => {
      assert.ok(err instanceof RuleSyntaxError);
      assert.equal(err.message, message);
      return true;
    }, rule);
  }
});

Deno.test("|| of hosts is one route for several hosts; && adds the path, methods and headers", () => {
  assert.deepEqual(http("Host(`a.test`) || Host(`B.test`)"), [
    { hosts: ["a.test", "b.test"], path: "/", methods: [], headers: [] },
  ]);
  assert.deepEqual(http("Host(`a.test`, `b.test`) && PathPrefix(`/api/`)"), [
    { hosts: ["a.test", "b.test"], path: "/api", methods: [], headers: [] },
  ]);
  assert.deepEqual(
    http(
      "(Host(`a.test`) || Host(`b.test`)) && PathPrefix(`/api`) && Method(`post`) && Header(`X-Tenant`, `blue`)",
    ),
    [{
      hosts: ["a.test", "b.test"],
      path: "/api",
      methods: ["POST"],
      headers: [["x-tenant", "blue"]],
    }],
  );
  assert.deepEqual(http("PathPrefix(`/`)"), [{ hosts: [], path: "/", methods: [], headers: [] }]);
});

Deno.test("different paths give one route each; a term without a host means any host", () => {
  assert.deepEqual(
    http("Host(`a.test`) && PathPrefix(`/x`) || Host(`b.test`) && PathPrefix(`/y`)"),
    [
      { hosts: ["a.test"], path: "/x", methods: [], headers: [] },
      { hosts: ["b.test"], path: "/y", methods: [], headers: [] },
    ],
  );
  assert.deepEqual(http("Host(`a.test`) || PathPrefix(`/`)"), [
    { hosts: [], path: "/", methods: [], headers: [] },
  ]);
  assert.deepEqual(http("PathPrefix(`/api`) && PathPrefix(`/api/v2`)"), [
    { hosts: [], path: "/api/v2", methods: [], headers: [] },
  ]);
});

Deno.test("what Gatehouse cannot express is refused with the reason", () => {
  assert.equal(http("!Host(`a`)"), "negation (!) has no Gatehouse equivalent");
  assert.equal(
    http("HostRegexp(`{sub:[a-z]+}.a.test`)"),
    "HostRegexp() has no Gatehouse equivalent",
  );
  assert.equal(
    http("Path(`/exact`)"),
    "Path(`/exact`) matches one exact path; Gatehouse routes match path prefixes: use PathPrefix",
  );
  assert.equal(
    http("Host(`a`) && Host(`b`)"),
    "the rule can never match (it asks for two different values at once)",
  );
  assert.equal(
    http("PathPrefix(`/a`) && PathPrefix(`/b`)"),
    "the rule can never match (it asks for two different values at once)",
  );
  assert.equal(http("Header(`x`)"), "Header() takes 2 argument(s)");
  const many = Array.from({ length: 9 }, (_, i) => `(Host(\`h${i}\`) || Host(\`g${i}\`))`).join(
    " && ",
  );
  assert.equal(http(many), "the rule has too many alternatives");
});

Deno.test("TCP rules: HostSNI names, or * for the entrypoint's default route", () => {
  const tcp = (rule: string) => translateTcpRule(parseRule(rule));
  assert.deepEqual(tcp("HostSNI(`*`)"), []);
  assert.deepEqual(tcp("HostSNI(`db.test`) || HostSNI(`DB2.test`)"), ["db.test", "db2.test"]);
  assert.deepEqual(tcp("HostSNI(`a.test`, `*`)"), []);
  assert.deepEqual(tcp("ClientIP(`10.0.0.0/8`)"), {
    problem: "ClientIP() has no Gatehouse equivalent in a TCP rule",
  });
});

Deno.test("a rule nested too deep or too long is a syntax error, not a stack overflow or a stall", () => {
  const deep = "(".repeat(1000) + "Host(`a.test`)" + ")".repeat(1000);
  assert.throws(() => parseRule(deep), /nests deeper than 64 levels/);
  assert.throws(() => parseRule("!".repeat(10_000) + "Host(`a.test`)"), RuleSyntaxError);
  const long = Array(10_000).fill("Host(`a.test`)").join(" && ");
  assert.throws(() => parseRule(long), /longer than 16384 characters/);
  // Within the bounds: 64 levels, and a chain as long as the limit allows.
  assert.ok(parseRule("(".repeat(64) + "Host(`a.test`)" + ")".repeat(64)));
  const chain = Array(900).fill("Host(`a.test`)").join(" && ");
  assert.ok(Array.isArray(translateHttpRule(parseRule(chain))));
});

Deno.test("fuzz: mutated rules parse or fail with a RuleSyntaxError, and translate without throwing", () => {
  const seeds = [
    "Host(`a.test`) && PathPrefix(`/api`)",
    'Host("a.test", "b.test") || (Method(`GET`) && Header(`X-A`, `1`))',
    "!Path(`/x`) && HostRegexp(`{sub:[a-z]+}.a.test`)",
    "HostSNI(`*`)",
  ];
  const words = ["(", ")", "!", "&&", "||", ",", "`", '"', "\\", "Host(", "PathPrefix(", " "];
  const rng = seeded(0x7261);
  let parsed = 0;
  for (let k = 0; k < 5000; k++) {
    const text = mutate(rng, seeds, words);
    let rule;
    try {
      rule = parseRule(text);
    } catch (err) {
      assert.ok(err instanceof RuleSyntaxError, `${JSON.stringify(text)}: ${err}`);
      continue;
    }
    parsed++;
    translateHttpRule(rule);
    translateTcpRule(rule);
  }
  assert.ok(parsed > 500, `${parsed} parsed`);
});
