import assert from "node:assert/strict";
import { didYouMean, editDistance, formatConfigError, formatPath, suggest } from "./errors.ts";

Deno.test("formatPath writes keys with dots, indexes in brackets, odd keys quoted", () => {
  assert.equal(formatPath(["routes", 2, "service"]), "routes[2].service");
  assert.equal(formatPath(["entrypoints", "web-2", "tls"]), "entrypoints.web-2.tls");
  assert.equal(formatPath(["services", "web@internal"]), `services["web@internal"]`);
  assert.equal(formatPath(["entrypoints", "8080"]), `entrypoints["8080"]`);
  assert.equal(formatPath([0]), "[0]");
  assert.equal(formatPath([]), "");
});

Deno.test("formatConfigError puts file:line:col, then the path, then the message", () => {
  const e = {
    file: "config/gatehouse.yaml",
    line: 14,
    col: 7,
    path: "routes[2].service",
    message: `unknown service "api" (known: web, app)`,
  };
  assert.equal(
    formatConfigError(e),
    `config/gatehouse.yaml:14:7 routes[2].service: unknown service "api" (known: web, app)`,
  );
  assert.equal(formatConfigError({ ...e, path: "" }), `config/gatehouse.yaml:14:7 ${e.message}`);
  assert.equal(
    formatConfigError({ ...e, line: 0, col: 0, path: "", message: "Cannot read the config file" }),
    "config/gatehouse.yaml: Cannot read the config file",
  );
});

Deno.test("editDistance counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("servcie", "service"), 1);
  assert.equal(editDistance("adress", "address"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("suggest finds close keys, case and separator slips, and nothing far away", () => {
  const keys = ["service", "strip_prefix", "match", "name", "max_body"];
  assert.equal(suggest("servcie", keys), "service");
  assert.equal(suggest("stripPrefix", keys), "strip_prefix");
  assert.equal(suggest("strip-prefix", keys), "strip_prefix");
  assert.equal(suggest("Match", keys), "match");
  assert.equal(suggest("nmae", keys), "name");
  assert.equal(suggest("upstream", keys), undefined);
  assert.equal(suggest("xy", keys), undefined);
  assert.equal(didYouMean("servcie", keys), ` (did you mean "service"?)`);
  assert.equal(didYouMean("zzz", keys), "");
});
