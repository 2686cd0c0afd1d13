/**
 * A "hello" HTTP/2 server for bench/h2_engine.ts: Gatehouse's engine (proxy/proto/h2/) or
 * Deno.serve (hyper), over TLS with ALPN h2 or h2c with prior knowledge, on 127.0.0.1 and a free
 * port, which it prints on stdout. Runs until killed.
 *
 * `deno run -A bench/servers/h2_hello.ts engine|deno-serve tls|h2c CERT_FILE KEY_FILE`
 *
 * @module
 */
import { HeaderList } from "../../proxy/proto/header_list.ts";
import { serveH2 } from "../../proxy/proto/h2/server.ts";

const [impl, mode, certFile, keyFile] = Deno.args;
const tls = mode === "tls";
const cert = tls ? await Deno.readTextFile(certFile) : "";
const key = tls ? await Deno.readTextFile(keyFile) : "";
const BODY = new TextEncoder().encode("hello world\n");

if (impl === "deno-serve") {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { cert, key } : {}),
    automaticCompression: false,
    onListen: ({ port }) => console.log(port),
  }, () => new Response(BODY, { headers: { "content-type": "text/plain" } }));
  await server.finished;
} else {
  const listener = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key, alpnProtocols: ["h2"] })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((listener.addr as Deno.NetAddr).port);
  const headers = HeaderList.from([["content-type", "text/plain"]]);
  for await (const conn of listener) {
    void (async () => {
      try {
        if (tls) await (conn as Deno.TlsConn).handshake();
        else (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        conn.close();
        return;
      }
      serveH2(conn, {
        onRequest(req) {
          void req.respond({ status: 200, headers, body: BODY }).catch(() => {});
        },
      });
    })();
  }
}
