import assert from "node:assert/strict";
import { errorsOf, MINIMAL } from "../../config/test_helpers.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { yaml } from "../../testing/proxy.ts";
import { curl } from "../compress/test_helpers.ts";
import { middlewareProxy } from "./test_helpers.ts";

const REDIRECTS = yaml`
  to-https: { redirect: { scheme: https, status: 308 } }
  apex: { redirect: { www: remove, status: 301 } }
  www: { redirect: { www: add } }
  blog:
    redirect:
      regex: "^https?://[^/]+/blog/(?<rest>.*)$"
      replacement: "https://blog.example.com/$<rest>"
      status: 301
`;

Deno.test("redirect to https: HTTP/1.1 gets a 308 to the same path and query, HTTPS passes", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: REDIRECTS,
    route: "middlewares: [to-https]",
  });
  const plain = await curl(gw.url("/a/b?x=1&y=2"), "--http1.1");
  assert.equal(plain.status, 308);
  assert.equal(plain.headers.get("location"), "https://127.0.0.1/a/b?x=1&y=2");
  const tls = await curl(gw.url("/a/b", "websecure"), "--http2", "--cacert", gw.certs.caCertPath);
  assert.equal(tls.status, 200);
  assert.equal(tls.version, "HTTP/2");
  assert.equal(up.requests.length, 1);
  await waitFor(() => gw.outcomes.length === 2, "two access records");
  assert.equal(gw.outcomes[0].middleware, "to-https");
  assert.equal(gw.outcomes[0].middlewareReason, null);
});

Deno.test("www remove and add: one hop, the port and target kept, never twice", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: REDIRECTS,
    route: "middlewares: [apex]",
  });
  const port = gw.port();
  const www = await curl(gw.url("/p?q"), "--http1.1", "-H", `Host: www.example.com:${port}`);
  assert.equal(www.status, 301);
  assert.equal(www.headers.get("location"), `http://example.com:${port}/p?q`);
  const apex = await curl(gw.url("/p?q"), "--http1.1", "-H", `Host: example.com:${port}`);
  assert.equal(apex.status, 200);
  await using gw2 = await middlewareProxy(up.url, {
    middlewares: REDIRECTS,
    route: "middlewares: [www]",
  });
  const h2 = await curl(
    `https://example.com:${gw2.port("websecure")}/`,
    "--http2",
    "--cacert",
    gw2.certs.caCertPath,
    "--resolve",
    `example.com:${gw2.port("websecure")}:127.0.0.1`,
    "-k",
  );
  assert.equal(h2.status, 302);
  assert.equal(h2.headers.get("location"), `https://www.example.com:${gw2.port("websecure")}/`);
});

Deno.test("redirect by regex with named captures over HTTP/2", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: REDIRECTS,
    route: "middlewares: [blog]",
  });
  const url = gw.url("/blog/2026/hello?ref=x", "websecure");
  const res = await curl(url, "--http2", "--cacert", gw.certs.caCertPath);
  assert.equal(res.status, 301);
  assert.equal(res.headers.get("location"), "https://blog.example.com/2026/hello?ref=x");
  const other = await curl(
    gw.url("/shop", "websecure"),
    "--http2",
    "--cacert",
    gw.certs.caCertPath,
  );
  assert.equal(other.status, 200);
});

Deno.test("a redirect that would send clients round forever is a config error", async () => {
  const errors = await errorsOf(
    MINIMAL + yaml`
    middlewares:
      loop:
        redirect:
          regex: '^https://example\.com/(.*)$'
          replacement: "https://example.com/new/$1"
      mixed: { redirect: { www: add, scheme: https } }
      half: { redirect: { regex: "^/x" } }
      bad: { redirect: { regex: "(", replacement: /y } }
      odd: { redirect: { scheme: https, status: 305 } }
  `,
  );
  assert.deepEqual(errors, [
    `8:20 middlewares.loop.redirect.replacement: the redirect's target "https://example.com/new/" ` +
    `matches its own regex: clients would be redirected forever; make the regex exclude what it ` +
    `redirects to`,
    `9:22 middlewares.mixed.redirect: use one form: scheme or www`,
    `10:21 middlewares.half.redirect: "regex" needs a "replacement"`,
    `11:29 middlewares.bad.redirect.regex: Cannot compile the regex "(": Unterminated group`,
    `12:45 middlewares.odd.redirect.status: a redirect's status is 301, 302, 303, 307 or 308`,
  ]);
});
