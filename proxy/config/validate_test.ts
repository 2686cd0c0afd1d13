import assert from "node:assert/strict";
import { LineCounter, parseDocument } from "yaml";
import { def, inherit, list, map, type Node, obj, opt, req, union } from "./dsl.ts";
import { formatConfigError } from "./errors.ts";
import { serverUrl } from "./net_values.ts";
import { yaml } from "./test_helpers.ts";
import { validate, type Validation } from "./validate.ts";
import { bool, disabled, dur, int, name, str } from "./values.ts";

function run<T>(schema: Node<T>, text: string): Validation<T> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  return validate(schema, doc, lines, "t.yaml");
}

function errors(schema: Node, text: string): string[] {
  return run(schema, text).errors.map(formatConfigError);
}

const server = obj({
  address: req(str(), "where"),
  timeout: def(dur(), "5s", "how long"),
  tags: def(list(str(), { single: true, unique: true }), [], "labels"),
  note: opt(str(), "a note"),
});

Deno.test("decodes values and applies defaults, absent optional keys are undefined", () => {
  const { value, errors } = run(server, "address: x\n");
  assert.deepEqual(errors, []);
  assert.deepEqual(value, { address: "x", timeout: 5000, tags: [], note: undefined });
});

Deno.test("unknown keys are errors at the key, with the nearest valid key suggested", () => {
  assert.deepEqual(errors(server, "address: x\ntimout: 3s\nzzz: 1\n"), [
    `t.yaml:2:1 unknown key "timout" (did you mean "timeout"?)`,
    `t.yaml:3:1 unknown key "zzz"`,
  ]);
});

Deno.test("a misspelt required key is reported once, as unknown with a suggestion", () => {
  assert.deepEqual(errors(server, "adress: x\n"), [
    `t.yaml:1:1 unknown key "adress" (did you mean "address"?)`,
  ]);
  assert.deepEqual(errors(server, "note: x\n"), [`t.yaml:1:1 missing required key "address"`]);
});

Deno.test("duplicate keys are errors pointing at the second one", () => {
  assert.deepEqual(errors(server, "address: x\nnote: a\naddress: y\n"), [
    `t.yaml:3:1 duplicate key "address" (first at 1:1)`,
  ]);
  const names = map(name(/^[a-z]+$/, "a name", "lowercase"), str(), { placeholder: "<n>" });
  assert.deepEqual(errors(names, "a: 1\nb: 2\na: 3\n"), [
    `t.yaml:3:1 duplicate key "a" (first at 1:1)`,
  ]);
});

Deno.test("type errors say what was expected and what was found, at the value", () => {
  assert.deepEqual(errors(server, "address: [1]\ntimeout: 30 sec\ntags: {a: 1}\n"), [
    "t.yaml:1:10 address: expected a string, found a list",
    `t.yaml:2:10 timeout: expected a duration like "30s" or "500ms", found "30 sec"`,
    `t.yaml:3:7 tags: expected a string or a list of them, found a map`,
  ]);
  assert.deepEqual(errors(server, "- a\n"), ["t.yaml:1:1 expected a map, found a list"]);
});

Deno.test("every error is collected, not just the first", () => {
  const text = yaml`
    - address: x
      timeout: 1 minute
    - adress: y
    - address: z
      tags: [a, b, a]
  `;
  assert.deepEqual(errors(list(server), text), [
    `t.yaml:2:12 [0].timeout: expected a duration like "30s" or "500ms", found "1 minute"`,
    `t.yaml:3:3 [1]: unknown key "adress" (did you mean "address"?)`,
    `t.yaml:5:16 [2].tags[2]: "a" is listed twice`,
  ]);
});

Deno.test("an invalid value counts as absent: the default, or the object is dropped", () => {
  const result = run(list(server), "- address: x\n  timeout: nope\n- timeout: 1s\n- address: z\n");
  assert.equal(result.errors.length, 2);
  assert.deepEqual(result.value?.map((s) => [s.address, s.timeout]), [["x", 5000], ["z", 5000]]);
  assert.deepEqual(result.locator.pathOf(result.value![1]), [2]);
});

Deno.test("a lone scalar is a one-item list where allowed; empty values are empty", () => {
  assert.deepEqual(run(server, "address: x\ntags: one\n").value?.tags, ["one"]);
  assert.deepEqual(run(server, "address: x\ntags:\n").value?.tags, []);
  const names = map(str(), int(0, 9), { placeholder: "<n>" });
  assert.deepEqual(run(obj({ m: def(names, {}, "m") }), "m:\n").value?.m, new Map());
  assert.deepEqual(errors(list(str()), "a\n"), [`t.yaml:1:1 expected a list, found "a"`]);
});

Deno.test("non-empty lists and maps say what to add", () => {
  const servers = obj({ servers: req(list(str(), { nonEmpty: "list at least one server" }), "s") });
  assert.deepEqual(errors(servers, "servers: []\n"), [
    "t.yaml:1:10 servers: list at least one server",
  ]);
  const entrypoints = map(str(), str(), { placeholder: "<n>", nonEmpty: "define one" });
  assert.deepEqual(errors(entrypoints, "{}\n"), ["t.yaml:1:1 define one"]);
});

Deno.test("map keys are checked and positioned at the key", () => {
  const names = map(name(/^[a-z]+$/, "a name", "lowercase"), int(0, 9), { placeholder: "<n>" });
  assert.deepEqual(errors(names, "ok: 1\nBad: 2\n"), [
    `t.yaml:2:1 Bad: expected a name (lowercase), found "Bad"`,
  ]);
  assert.deepEqual(errors(names, "[a]: 1\n"), ["t.yaml:1:1 map keys must be plain strings"]);
});

Deno.test("unions pick a branch by shape", () => {
  const passive = obj({
    p: def(union(disabled(), obj({ n: def(int(1, 9), 5, "n") })), {}, "p"),
    s: def(list(union(serverUrl(), obj({ url: req(serverUrl(), "u") }))), [], "s"),
  });
  assert.deepEqual(run(passive, "").value?.p, { n: 5 });
  assert.deepEqual(run(passive, "p: false\n").value?.p, null);
  assert.deepEqual(run(passive, "p: {n: 2}\n").value?.p, { n: 2 });
  assert.deepEqual(errors(passive, "p: true\n"), [
    "t.yaml:1:4 p: expected false or a map, found true",
  ]);
  assert.deepEqual(errors(passive, "p: []\n"), [
    "t.yaml:1:4 p: expected false or a map, found a list",
  ]);
  const servers = run(passive, "s: [http://a, {url: http://b}]\n").value?.s;
  assert.deepEqual(servers?.map((s) => "url" in s && typeof s.url === "string" ? s.url : s), [
    "http://a:80",
    { url: { url: "http://b:80", scheme: "http", hostname: "b", port: 80, path: null } },
  ]);
});

Deno.test("inherited defaults come from the decoded root", () => {
  const schema = obj({
    top: def(obj({ limit: def(dur(), "60s", "l") }), {}, "t"),
    item: def(
      obj({ limit: inherit(dur(), "top.limit", "l"), on: def(bool(), true, "o") }),
      {},
      "i",
    ),
  });
  assert.equal(run(schema, "top: {limit: 5s}\n").value?.item.limit, 5000);
  assert.equal(run(schema, "").value?.item.limit, 60_000);
  assert.equal(run(schema, "item: {limit: 1s}\n").value?.item.limit, 1000);
});

Deno.test("aliases are followed; unknown aliases are errors", () => {
  assert.deepEqual(run(list(server), "- &a {address: x}\n- *a\n").value?.length, 2);
  assert.deepEqual(errors(server, "address: *nope\n"), [
    `t.yaml:1:10 address: unknown alias "*nope"`,
  ]);
});

Deno.test("positions of written values and keys are recorded by path", () => {
  const { locator } = run(
    obj({ m: def(map(str(), server, { placeholder: "<n>" }), {}, "m") }),
    yaml`
    m:
      one:
        address: x
  `,
  );
  assert.deepEqual(locator.pos(["m", "one"], "key"), { file: "t.yaml", line: 2, col: 3 });
  assert.deepEqual(locator.pos(["m", "one", "address"]), { file: "t.yaml", line: 3, col: 14 });
  assert.deepEqual(locator.pos(["m", "one", "timeout"]), { file: "t.yaml", line: 3, col: 5 });
  assert.equal(locator.written(["m", "one", "timeout"]), false);
  assert.equal(locator.written(["m", "one", "address"]), true);
});
