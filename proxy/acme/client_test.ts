import assert from "node:assert/strict";
import { closedPort } from "../testing/servers.ts";
import { generateKeyPair } from "../pki/generate.ts";
import { AcmeClient, AcmeError } from "./client.ts";

/** What the loopback CA saw of one signed POST, its signature checked with the sender's key. */
interface SeenPost {
  readonly path: string;
  readonly header: Record<string, unknown>;
  readonly payload: unknown;
}

type Answer = (post: SeenPost, count: number) => Response;

const decode = (part: string) =>
  new TextDecoder().decode(Uint8Array.fromBase64(part, { alphabet: "base64url" }));

/**
 * A loopback ACME CA: a directory, nonces, and POSTs answered by `answer` after it verified the
 * ES256 signature with the account key (the `jwk` of the first request, remembered per `kid`).
 */
function loopbackCa(answer: Answer, directory?: Record<string, unknown>) {
  const posts: SeenPost[] = [];
  /** The Replay-Nonce sent with the answer to each POST. */
  const answered: string[] = [];
  const keys = new Map<string, CryptoKey>();
  let nonce = 0;
  const fresh = () => ({ "replay-nonce": `n${++nonce}` });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { pathname, origin } = new URL(req.url);
    if (pathname === "/dir") {
      return Response.json(
        directory ??
          {
            newNonce: `${origin}/nonce`,
            newAccount: `${origin}/acct`,
            newOrder: `${origin}/order`,
          },
      );
    }
    if (pathname === "/nonce") return new Response(null, { headers: fresh() });
    const jws = await req.json();
    const header = JSON.parse(decode(jws.protected));
    const key = header.jwk
      ? await crypto.subtle.importKey(
        "jwk",
        header.jwk,
        { name: "ECDSA", namedCurve: "P-256" },
        true,
        ["verify"],
      )
      : keys.get(header.kid);
    const signed = new TextEncoder().encode(`${jws.protected}.${jws.payload}`);
    const signature = Uint8Array.fromBase64(jws.signature, { alphabet: "base64url" });
    if (
      !key ||
      !await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signed)
    ) {
      return new Response("bad signature", { status: 400 });
    }
    const post = {
      path: pathname,
      header,
      payload: jws.payload === "" ? undefined : JSON.parse(decode(jws.payload)),
    };
    posts.push(post);
    const res = answer(post, posts.length);
    if (header.jwk && res.headers.get("location")) keys.set(res.headers.get("location")!, key);
    res.headers.set("replay-nonce", fresh()["replay-nonce"]);
    answered.push(res.headers.get("replay-nonce")!);
    return res;
  });
  return {
    posts,
    answered,
    url: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const problem = (type: string, detail: string, status = 400) =>
  new Response(JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

async function clientFor(url: string) {
  return new AcmeClient({
    directoryUrl: `${url}/dir`,
    accountKey: await generateKeyPair(),
    caPem: null,
    timeoutMs: 5000,
    signal: new AbortController().signal,
  });
}

Deno.test("ACME client: signs with the key first, then with the account URL", async () => {
  await using ca = loopbackCa((post) =>
    post.path === "/acct"
      ? Response.json({ status: "valid", contact: [] }, {
        status: 201,
        headers: { location: `${ca.url}/acct/7` },
      })
      : Response.json({ status: "pending" }, {
        status: 201,
        headers: { location: `${ca.url}/order/1` },
      })
  );
  const client = await clientFor(ca.url);
  assert.equal(await client.account([]), `${ca.url}/acct/7`);
  const order = await client.newOrder(["a.test"], null);
  assert.equal(order.url, `${ca.url}/order/1`);
  const [acct, ord] = ca.posts;
  assert.equal(acct.header.kid, undefined);
  assert.deepEqual(Object.keys(acct.header.jwk as object).sort(), ["crv", "kty", "x", "y"]);
  assert.equal(ord.header.kid, `${ca.url}/acct/7`);
  assert.equal(ord.header.jwk, undefined);
  assert.equal(ord.header.url, `${ca.url}/order`);
  assert.deepEqual(ord.payload, { identifiers: [{ type: "dns", value: "a.test" }] });
  assert.notEqual(acct.header.nonce, ord.header.nonce, "each request spends a fresh nonce");
});

Deno.test("ACME client: a badNonce is retried with the nonce it brought, a few times only", async () => {
  await using ca = loopbackCa((_post, count) =>
    count <= 2 ? problem("badNonce", "stale") : Response.json({ ok: true })
  );
  const client = await clientFor(ca.url);
  const res = await client.post(`${ca.url}/thing`, { a: 1 });
  assert.deepEqual(res.body, { ok: true });
  assert.equal(ca.posts.length, 3);
  assert.equal(ca.posts[1].header.nonce, ca.answered[0], "the nonce of the badNonce answer");
  assert.equal(ca.posts[2].header.nonce, ca.answered[1]);

  await using stubborn = loopbackCa(() => problem("badNonce", "always stale"));
  const client2 = await clientFor(stubborn.url);
  await assert.rejects(client2.post(`${stubborn.url}/thing`, {}), (err: AcmeError) => {
    assert.equal(err.type, "urn:ietf:params:acme:error:badNonce");
    return true;
  });
  assert.equal(stubborn.posts.length, 6, "the first try and 5 retries");
});

Deno.test("ACME client: a problem document becomes an error naming the URL, type and detail", async () => {
  await using ca = loopbackCa(() => problem("unauthorized", "account is deactivated", 403));
  const client = await clientFor(ca.url);
  await assert.rejects(client.post(`${ca.url}/order/1`, undefined), (err: AcmeError) => {
    assert.equal(
      err.message,
      `${ca.url}/order/1 answered 403 unauthorized: account is deactivated`,
    );
    assert.equal(err.type, "urn:ietf:params:acme:error:unauthorized");
    return true;
  });
  assert.equal(ca.posts.length, 1, "not retried");
});

Deno.test("ACME client: poll asks again (POST-as-GET) until done, as Retry-After says", async () => {
  await using ca = loopbackCa((_post, count) =>
    Response.json({ status: count < 3 ? "processing" : "valid" }, {
      headers: { "retry-after": "0" },
    })
  );
  const client = await clientFor(ca.url);
  const done = await client.poll(`${ca.url}/order/1`, (body) => body.status === "valid");
  assert.equal(done.body.status, "valid");
  assert.equal(done.retryAfterMs, 0);
  assert.equal(ca.posts.length, 3);
  assert.ok(ca.posts.every((p) => p.payload === undefined), "POST-as-GET has no payload");
});

Deno.test("ACME client: a directory without its members, or no server, is a clear error", async () => {
  await using ca = loopbackCa(() => Response.json({}), { newNonce: "x", newAccount: "y" });
  const client = await clientFor(ca.url);
  await assert.rejects(client.directory(), {
    message: `${ca.url}/dir is not an ACME directory: "newOrder" is missing`,
  });
  const nowhere = `http://127.0.0.1:${closedPort()}`;
  await assert.rejects((await clientFor(nowhere)).directory(), (err: Error) => {
    assert.ok(err instanceof AcmeError);
    assert.match(err.message, new RegExp(`^Cannot reach the ACME server at ${nowhere}/dir: `));
    return true;
  });
});
