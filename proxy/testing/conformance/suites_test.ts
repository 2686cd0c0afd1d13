/**
 * Reading the tools' verdicts: outputs as h2spec 2.0 and smuggler 1.1 print them (progress
 * rewritten with "\r", colour codes), passing and failing.
 */
import assert from "node:assert/strict";
import { parseH2spec, parseSmuggler } from "./suites.ts";

const H2SPEC_PASS = [
  "Generic tests for HTTP/2 server",
  "  1. Starting HTTP/2",
  "      1: Sends a client connection preface\r    ✔ 1: Sends a client connection preface",
  "",
  "Finished in 1.6670 seconds",
  "146 tests, 146 passed, 0 skipped, 0 failed",
  "",
].join("\n");

const H2SPEC_FAIL = [
  "    3.1. DATA",
  "      1: Sends a DATA frame with invalid pad length\r      × 1: Sends a DATA frame with " +
  "invalid pad length",
  "        -> The endpoint MUST treat this as a connection error of type PROTOCOL_ERROR.",
  "",
  "Failures: ",
  "",
  "    3.1. DATA",
  "      × 1: Sends a DATA frame with invalid pad length",
  "",
  "Finished in 2.0 seconds",
  "147 tests, 145 passed, 1 skipped, 1 failed",
].join("\n");

Deno.test("h2spec: counts from the last line, failed cases named once", () => {
  assert.deepEqual(parseH2spec(H2SPEC_PASS), {
    tests: 146,
    passed: 146,
    skipped: 0,
    failed: 0,
    failures: [],
  });
  const failing = parseH2spec(H2SPEC_FAIL);
  assert.equal(failing?.failed, 1);
  assert.equal(failing?.skipped, 1);
  assert.deepEqual(failing?.failures, ["× 1: Sends a DATA frame with invalid pad length"]);
  assert.equal(parseH2spec("Error: dial tcp 127.0.0.1:1: connect: connection refused\n"), null);
});

const ERASE = "\r" + " ".repeat(100) + "\r";
const smugglerLine = (name: string, verdict: string) =>
  `${ERASE}\x1b[1m\x1b[35m[${name}]${" ".repeat(Math.max(0, 13 - name.length))}: ` +
  `Checking TECL...${ERASE}[${name}]: Checking CLTE...${ERASE}[${name}]: ${verdict}\x1b[0m`;

const SMUGGLER_CLEAN = [
  "[+] URL        : http://127.0.0.1:33743/",
  "[+] Cookies    : 0 (Appending to the attack)",
  smugglerLine("nameprefix1", "OK (TECL: 0.02 - 400) (CLTE: 0.00 - 400)"),
  smugglerLine("xprespace-09", "OK (TECL: 0.04 - 200) (CLTE: 0.01 - 200)"),
  smugglerLine("midspace-0b", "DISCONNECTED"),
  "",
].join("\n");

const SMUGGLER_FINDING = [
  "[+] URL        : http://127.0.0.1:33743/",
  smugglerLine("nameprefix1", "OK (TECL: 0.02 - 400) (CLTE: 0.00 - 400)"),
  smugglerLine("vertprefix1", "Potential CLTE Issue Found - POST @ http://127.0.0.1/ - default.py"),
  `${ERASE}[CRITICAL]: CLTE Payload: /tmp/x/payloads/http_127_0_0_1_CLTE_vertprefix1.txt URL: ` +
  "http://127.0.0.1:33743/",
  "",
].join("\n");

Deno.test("smuggler: one verdict per mutation, info lines and progress ignored", () => {
  const clean = parseSmuggler(SMUGGLER_CLEAN);
  assert.equal(clean.mutations, 3);
  assert.deepEqual([...clean.outcomes], [["OK", 2], ["DISCONNECTED", 1]]);
  assert.deepEqual(clean.findings, []);
});

Deno.test("smuggler: a finding and the file its payload went to", () => {
  const found = parseSmuggler(SMUGGLER_FINDING);
  assert.equal(found.mutations, 2);
  assert.deepEqual(found.findings, [
    "[vertprefix1]: Potential CLTE Issue Found - POST @ http://127.0.0.1/ - default.py",
  ]);
  assert.equal(found.payloads.length, 1);
  assert.match(found.payloads[0], /^\[CRITICAL\]: CLTE Payload: .*vertprefix1\.txt/);
});
