import assert from "node:assert/strict";
import { join } from "node:path";
import { configOf, errorsOf, FILE, withCerts, yaml } from "./test_helpers.ts";

Deno.test("unix socket entrypoints: the path (relative to the file), mode and owner", async () => {
  const config = await configOf(yaml`
    entrypoints:
      web: { address: "unix:/run/gatehouse/web.sock" }
      local:
        address: unix:sockets/local.sock
        socket_file: { mode: "0660", owner: root, group: 0 }
      raw: { address: "unix:/run/raw.sock", protocol: tcp, socket_file: { mode: 600 } }
      tcp: { address: ":8080" }
    services: { db: { servers: [tcp://db:5432] } }
    tcp_routes: [{ entrypoints: [raw], service: db }]
    forwarding: { trusted_proxies: [unix, 10.0.0.0/8] }
  `);
  const { web, local, raw, tcp } = config.entrypoints;
  assert.deepEqual(web.unix, { path: "/run/gatehouse/web.sock", mode: null, uid: null, gid: null });
  assert.deepEqual(web.address, { hostname: "", port: 0 });
  assert.deepEqual(local.unix, {
    path: join(FILE, "..", "sockets/local.sock"),
    mode: 0o660,
    uid: 0,
    gid: 0,
  });
  assert.deepEqual([raw.protocol, raw.unix?.mode], ["tcp", 0o600]);
  assert.equal(tcp.unix, null);
  assert.equal(config.forwarding.trustUnixClients, true);
  assert.deepEqual(config.forwarding.trustedProxies.map((c) => c.text), ["10.0.0.0/8"]);
});

Deno.test("unix socket entrypoint errors point at the key, with what to write", async () => {
  await withCerts(async (file) => {
    assert.deepEqual(
      await errorsOf(
        yaml`
        entrypoints:
          a: { address: "unix:///run/a.sock" }
          b: { address: ":8080", socket_file: { mode: "0660" } }
          c: { address: "unix:/run/c.sock", socket_file: { mode: "0999", owner: no-such-user-x } }
          d: { address: "unix:/run/c.sock" }
          e: { address: "unix:/run/e.sock", protocol: tcp, proxy_protocol: { trusted: [10.0.0.1] } }
          f: { address: "unix:", redirect: { to: g } }
          g:
            address: "unix:/run/g.sock"
            tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
        services: { db: { servers: [tcp://db:5432] } }
        tcp_routes: [{ entrypoints: [e], service: db }]
      `,
        file,
      ),
      [
        `2:17 entrypoints.a.address: write a listening socket as "unix:/run/a.sock": one slash, as nginx's "listen unix:" does ("unix://" names servers)`,
        `3:26 entrypoints.b.socket_file: "socket_file" is for unix socket addresses ("unix:/path")`,
        `4:58 entrypoints.c.socket_file.mode: expected a file mode in octal like "0660", found "0999"`,
        `4:73 entrypoints.c.socket_file.owner: unknown user "no-such-user-x" (not in /etc/passwd); give a numeric id instead`,
        `5:17 entrypoints.d.address: unix socket "/run/c.sock" is already used by entrypoint "c"`,
        `6:52 entrypoints.e.proxy_protocol: "proxy_protocol" needs client addresses to trust: a unix socket's clients have none`,
        `7:17 entrypoints.f.address: expected a socket path after "unix:", like "unix:/run/gatehouse.sock"`,
      ],
    );
  });
});

Deno.test("a redirect cannot point at a unix socket entrypoint", async () => {
  await withCerts(async (file) => {
    assert.deepEqual(
      await errorsOf(
        yaml`
        entrypoints:
          web: { address: ":8080", redirect: { to: secure } }
          secure:
            address: "unix:/run/secure.sock"
            tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
      `,
        file,
      ),
      [
        `2:44 entrypoints.web.redirect.to: entrypoint "secure" listens on a unix socket: a redirect needs a host and port`,
      ],
    );
  });
});
