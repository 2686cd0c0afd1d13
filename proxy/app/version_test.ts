import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { gitCommit, VERSION } from "./version.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);

async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text);
}

Deno.test("gitCommit follows HEAD: loose refs, packed refs, a detached HEAD, a worktree's .git file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-version-" });
  try {
    const main = join(dir, "main");
    assert.equal(gitCommit(main), null);
    await write(join(main, ".git", "HEAD"), "ref: refs/heads/trunk\n");
    await write(join(main, ".git", "packed-refs"), `# pack-refs\n${B} refs/heads/trunk\n`);
    assert.equal(gitCommit(main), B);
    await write(join(main, ".git", "refs", "heads", "trunk"), `${A}\n`);
    assert.equal(gitCommit(main), A);
    await write(join(main, ".git", "HEAD"), `${C}\n`);
    assert.equal(gitCommit(main), C);

    const tree = join(dir, "tree");
    const admin = join(main, ".git", "worktrees", "tree");
    await write(join(tree, ".git"), `gitdir: ${admin}\n`);
    await write(join(admin, "HEAD"), "ref: refs/heads/topic\n");
    await write(join(admin, "commondir"), "../..\n");
    assert.equal(gitCommit(tree), null);
    await write(join(main, ".git", "refs", "heads", "topic"), `${B}\n`);
    assert.equal(gitCommit(tree), B);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--version prints Gatehouse's version from deno.json, the commit when known, and Deno's", async () => {
  assert.equal(VERSION, denoJson.version);
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command(Deno.execPath(), { args, env, stderr: "inherit" }).output();
    assert.equal(out.code, 0);
    return new TextDecoder().decode(out.stdout);
  };
  const withCommit = await run(["run", "-A", MAIN, "--version"], { GATEHOUSE_COMMIT: C });
  assert.deepEqual(withCommit.split("\n"), [
    `gatehouse ${VERSION} (commit ${C.slice(0, 12)})`,
    `deno ${Deno.version.deno}`,
    `v8 ${Deno.version.v8}`,
    `typescript ${Deno.version.typescript}`,
    "",
  ]);
  // No permissions at all: no commit, and no prompt.
  const bare = await run(["run", "--no-prompt", MAIN, "-V"]);
  assert.equal(bare.split("\n")[0], `gatehouse ${VERSION}`);
});
