import assert from "node:assert/strict";
import { join } from "node:path";
import { formatConfigError, loadConfigText } from "../../config/mod.ts";
import { startGatehouse } from "../../testing/gatehouse.ts";
import { yaml } from "../../testing/proxy.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { PasswordVerifier } from "./passwords.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

/** Runs a command, returns its standard output; fails the test on a non-zero exit. */
async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

/** "name:hash" made by Apache's htpasswd (bcrypt, cost `cost`). */
async function bcryptUser(name: string, password: string, cost = 5): Promise<string> {
  return (await run("htpasswd", ["-nbB", "-C", String(cost), name, password])).trim();
}

/** "name:hash" made by the reference argon2 command line tool (argon2id). */
async function argon2User(name: string, password: string): Promise<string> {
  const hash = await run(
    "argon2",
    ["gatehouse-salt", "-id", "-e", "-m", "12", "-t", "2"],
    password,
  );
  return `${name}:${hash.trim()}`;
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${btoa(`${user}:${password}`)}`,
});

for (const version of PROTOCOLS) {
  Deno.test(`basic_auth: 401 with a challenge, bcrypt and argon2id users pass (HTTP/${version})`, async () => {
    await using up = httpUpstream();
    const alice = await bcryptUser("alice", "wonderland");
    const bob = await argon2User("bob", "builder");
    await using gw = await middlewareProxy(up.url, {
      middlewares: yaml`
        admins:
          basic_auth: { users: ["${alice}", "${bob}"], realm: Admin area, user_header: X-User }
      `,
      route: "middlewares: [admins]",
    });
    const none = await request(gw, version, "/admin");
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), `Basic realm="Admin area", charset="UTF-8"`);
    await none.body?.cancel();
    const wrong = await request(gw, version, "/admin", { headers: basic("alice", "nope") });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const unknown = await request(gw, version, "/admin", { headers: basic("mallory", "x") });
    assert.equal(unknown.status, 401);
    await unknown.body?.cancel();
    assert.equal(up.requests.length, 0);

    for (const [user, password] of [["alice", "wonderland"], ["bob", "builder"]]) {
      const ok = await request(gw, version, "/admin", {
        headers: { ...basic(user, password), "x-user": "root" },
      });
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "ok");
      const seen = up.requests.at(-1)!;
      assert.equal(seen.headers.get("authorization"), null, "the password stays at the edge");
      assert.equal(seen.headers.get("x-user"), user, "the client's own X-User is replaced");
    }
    await waitFor(() => gw.outcomes.length === 5, "five access records");
    assert.deepEqual(gw.outcomes.map((o) => [o.status, o.user, o.middlewareReason]), [
      [401, null, "no_credentials"],
      [401, null, "bad_credentials"],
      [401, null, "bad_credentials"],
      [200, "alice", null],
      [200, "bob", null],
    ]);
    assert.equal(gw.outcomes[2].error, `wrong password or unknown user "mallory"`);
  });
}

Deno.test("basic_auth: curl -u passes; remove_header: false lets Authorization through", async () => {
  await using up = httpUpstream();
  const carol = await bcryptUser("carol", "s3cret pass:word");
  await using gw = await middlewareProxy(up.url, {
    middlewares: yaml`
      keep: { basic_auth: { users: ["${carol}"], remove_header: false } }
    `,
    route: "middlewares: [keep]",
  });
  const out = await run("curl", [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-u",
    "carol:s3cret pass:word",
    gw.url("/"),
  ]);
  assert.equal(out, "200");
  assert.equal(
    up.requests[0].headers.get("authorization"),
    `Basic ${btoa("carol:s3cret pass:word")}`,
  );
  const bad = await run("curl", [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-u",
    "carol:x",
    gw.url("/"),
  ]);
  assert.equal(bad, "401");
});

Deno.test("basic_auth: a slow check runs off the event loop, which keeps turning", async () => {
  // Cost 13: about half a second of CPU for one check.
  const hash = (await bcryptUser("slow", "password", 13)).replace(/^slow:/, "");
  const verifier = new PasswordVerifier();
  try {
    let turns = 0;
    let done = false;
    const check = Promise.resolve(verifier.check("slow", "wrong", hash)).finally(() => done = true);
    // Timers fire while the check runs: a check on this thread would hold them all back.
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      turns++;
    }
    assert.equal(await check, false);
    assert.ok(turns >= 20, `the event loop turned only ${turns} times during the check`);
    assert.equal(await verifier.check("slow", "password", hash), true);
    // A password that passed is remembered: no second check.
    assert.equal(verifier.check("slow", "password", hash), true);
  } finally {
    verifier.close();
  }
});

Deno.test("basic_auth: checks beyond the waiting bound are refused at once, not queued", async () => {
  const hash = (await bcryptUser("u", "p", 12)).replace(/^u:/, "");
  const verifier = new PasswordVerifier(2);
  try {
    const first = verifier.check("u", "a", hash);
    const second = verifier.check("u", "b", hash);
    assert.equal(await verifier.check("u", "c", hash), null, "a third check waits for none");
    assert.deepEqual(await Promise.all([first, second]), [false, false]);
    assert.equal(await verifier.check("u", "p", hash), true, "room again once they are done");
  } finally {
    verifier.close();
  }
});

Deno.test("basic_auth: an htpasswd file with bcrypt and argon2id lines, reloaded when it changes", async () => {
  await using up = httpUpstream();
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-htpasswd-" });
  try {
    const file = join(dir, "team.htpasswd");
    // Both kinds of hash in one file: bcrypt (Apache's htpasswd) and argon2id (argon2's tool).
    const users = [await bcryptUser("dave", "one"), await argon2User("fay", "three")];
    await Deno.writeTextFile(file, `# the team\n${users.join("\n")}\n`);
    await using live = await startGatehouse(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      admin: { address: "127.0.0.1:0" }
      middlewares:
        team: { basic_auth: { users_file: ${file} } }
      routes: [{ service: app, middlewares: [team] }]
      services: { app: { servers: [${up.url}] } }
    `,
      true,
    );
    const status = async (user: string, password: string) => {
      const res = await fetch(`http://127.0.0.1:${live.port()}/`, {
        headers: basic(user, password),
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await status("dave", "one"), 200);
    assert.equal(await status("fay", "three"), 200);
    assert.equal(await status("fay", "one"), 401);
    assert.equal(await status("erin", "two"), 401);
    await run("htpasswd", ["-bB", "-C", "5", file, "erin", "two"]);
    await waitFor(async () => await status("erin", "two") === 200, "erin let in after the reload");
    assert.equal(await status("dave", "one"), 200);
    const line =
      `gatehouse_middleware_rejections_total{middleware="team",reason="bad_credentials"}`;
    const metrics = await (await fetch(live.admin("/metrics"))).text();
    assert.ok(metrics.includes(line), `${line} counted`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("basic_auth config errors say which user, which file, and what to do", async () => {
  const errors = async (mw: string) => {
    const loaded = await loadConfigText(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      middlewares:
        a: ${mw}
      routes: [{ service: app, middlewares: [a] }]
      services: { app: { servers: ["http://127.0.0.1:1"] } }
    `,
      "/nonexistent/gatehouse.yaml",
    );
    assert.equal(loaded.ok, false);
    return loaded.ok ? [] : loaded.errors.map(formatConfigError);
  };
  const md5 = (await run("htpasswd", ["-nbm", "old", "pw"])).trim();
  const [e1] = await errors(`{ basic_auth: { users: ["${md5}"] } }`);
  assert.match(e1, /gatehouse\.yaml:3:30 middlewares\.a\.basic_auth\.users\[0\]: /);
  assert.match(e1, /an MD5 \(apr1\) hash: use bcrypt \("htpasswd -nB <name>"\) or argon2id/);
  const costly = (await bcryptUser("x", "y", 15)).replace(/^x:/, "");
  const [e2] = await errors(`{ basic_auth: { users: ["x:${costly}"] } }`);
  assert.match(e2, /bcrypt cost 15 is outside 4-14/);
  const [e3] = await errors(`{ basic_auth: { users_file: missing.htpasswd } }`);
  assert.match(e3, /Cannot read the users file "\/nonexistent\/missing\.htpasswd": file not found/);
  const [e4] = await errors(`{ basic_auth: {} }`);
  assert.match(e4, /list "users", or give a "users_file"/);
});
