/**
 * TCP_NODELAY on TLS listeners through libc (tcp_nodelay.ts), checked on the sockets themselves
 * with getsockopt: when a Deno upgrade breaks the lookup or the inheritance these fail and say
 * which; when Deno starts setting TCP_NODELAY itself, the control fails and says the workaround
 * can go.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { libcPath } from "./libc.ts";
import { listenWithNoDelay, setNoDelayOnListeners, tcpSockets } from "./tcp_nodelay.ts";
import { listenTlsWithSni } from "./deno_internals.ts";

async function keyPair(): Promise<{ cert: string; key: string }> {
  const { certPem, keyPem } = await (await testPki()).leaf();
  return { cert: certPem, key: keyPem };
}

/** Completes a TLS handshake with `listener` and returns the server side's TCP_NODELAY. */
async function acceptedNoDelay(listener: Deno.TlsListener): Promise<boolean> {
  const accepted = listener.accept();
  const client = await Deno.connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [(await testPki()).caPem],
  });
  const server = await accepted;
  try {
    await Promise.all([client.handshake(), server.handshake()]);
    const port = listener.addr.port;
    const found = tcpSockets().filter((s) =>
      s.localPort === port && s.peerPort === client.localAddr.port
    );
    assert.equal(found.length, 1, `the accepted connection among ${JSON.stringify(tcpSockets())}`);
    return found[0].noDelay;
  } finally {
    client.close();
    server.close();
  }
}

Deno.test("a TLS listener's accepted connections get TCP_NODELAY from the listening socket", async () => {
  const pair = await keyPair();
  const plain = listenWithNoDelay(() =>
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair })
  );
  using _plain = plain.listener;
  assert.deepEqual(plain.noDelay, { ok: true, sockets: 1 });
  assert.equal(await acceptedNoDelay(plain.listener), true, "inherited from the listener");

  const sni = listenWithNoDelay(() =>
    listenTlsWithSni({
      hostname: "127.0.0.1",
      port: 0,
      alpnProtocols: ["h2", "http/1.1"],
      reusePort: false,
      resolve: () => pair,
    })
  );
  using _sni = sni.listener;
  assert.deepEqual(sni.noDelay, { ok: true, sockets: 1 });
  assert.equal(await acceptedNoDelay(sni.listener), true, "the SNI resolver's listener too");

  using control = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair });
  assert.equal(
    await acceptedNoDelay(control),
    false,
    "Deno now sets TCP_NODELAY on TLS connections itself: tcp_nodelay.ts may be removed",
  );
});

Deno.test("when the predicted descriptor is taken, the listener is found among all of them", async () => {
  const pair = await keyPair();
  let other: Deno.TcpListener | undefined;
  const { listener, noDelay } = listenWithNoDelay(() => {
    // Takes the lowest free descriptor first, as another thread could.
    other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair });
  });
  using _listener = listener;
  using _other = other!;
  assert.deepEqual(noDelay, { ok: true, sockets: 1 });
  assert.equal(await acceptedNoDelay(listener), true);
  const otherSocket = tcpSockets().find((s) => s.localPort === other!.addr.port);
  assert.equal(otherSocket?.noDelay, false, "the other listener is left alone");
});

Deno.test("every listener sharing a port gets it; UDP on the port is ignored; no listener is an error", async () => {
  const pair = await keyPair();
  using first = Deno.listenTls({ hostname: "127.0.0.1", port: 0, reusePort: true, ...pair });
  const port = first.addr.port;
  using _second = Deno.listenTls({ hostname: "127.0.0.1", port, reusePort: true, ...pair });
  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
  try {
    assert.deepEqual(setNoDelayOnListeners(port), { ok: true, sockets: 2 });
  } finally {
    udp.close();
  }
  assert.deepEqual(
    tcpSockets().filter((s) => s.localPort === port).map((s) => s.noDelay),
    [true, true],
  );
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closed.close();
  const none = setNoDelayOnListeners(closed.addr.port);
  assert.equal(none.ok, false);
  assert.match((none as { reason: string }).reason, /no listening socket on port/);
});

/** Runs listenWithNoDelay in a child process with `flags`; returns its result. */
async function inChild(flags: string[]): Promise<{ ok: boolean; reason?: string }> {
  const module = new URL("./tcp_nodelay.ts", import.meta.url).href;
  const code = `
    import { listenWithNoDelay } from "${module}";
    const { listener, noDelay } = listenWithNoDelay(() =>
      Deno.listen({ hostname: "127.0.0.1", port: 0 })
    );
    console.log(JSON.stringify(noDelay));
    listener.close();
  `;
  // `deno eval` would grant every permission: run a file.
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-prompt", ...flags, file],
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("--allow-ffi for libc alone is enough; without it the result says what to allow", async () => {
  // The permission Gatehouse's tasks and image grant: no read access to /proc is needed.
  const allowed = await inChild(["--allow-net=127.0.0.1", `--allow-ffi=${libcPath()[0]}`]);
  assert.deepEqual(allowed, { ok: true, sockets: 1 });
  const refused = await inChild(["--allow-net=127.0.0.1"]);
  assert.equal(refused.ok, false);
  assert.match(refused.reason!, /--allow-ffi=\/lib\/.+\/libc\.so\.6/);
});
