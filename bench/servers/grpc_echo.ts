/**
 * gRPC upstream for the bench, over h2c with prior knowledge on Gatehouse's HTTP/2 engine
 * (proxy/proto/h2/): `deno run --allow-net bench/servers/grpc_echo.ts PORT`. Python's grpcio
 * serves a few thousand calls a second on one core and would be the bottleneck of every row.
 *
 * Any POST is a unary call: the request body (gRPC length-prefixed messages) is read to its end,
 * and the answer is one gRPC message (GRPC_REPLY) with `content-type: application/grpc` and the
 * trailers `grpc-status: 0`, `grpc-message` empty, as a gRPC server sends them.
 *
 * @module
 */
import { HeaderList } from "../../proxy/proto/header_list.ts";
import { serveH2 } from "../../proxy/proto/h2/server.ts";

const port = Number(Deno.args[0]);
if (!(port > 0)) {
  console.error("Usage: grpc_echo.ts PORT");
  Deno.exit(2);
}

/** A 5-byte gRPC message prefix (uncompressed, length 12) and 12 bytes of message. */
const GRPC_REPLY = new Uint8Array([
  0,
  0,
  0,
  0,
  12,
  ...new TextEncoder().encode("hello world\n"),
]);

const listener = Deno.listen({ hostname: "127.0.0.1", port });
for await (const conn of listener) {
  conn.setNoDelay(true);
  serveH2(conn, {
    onRequest(req) {
      void (async () => {
        if (req.body) { while ((await req.body.read()) !== null) { /* drain */ } }
        await req.respond({
          status: 200,
          headers: HeaderList.from([["content-type", "application/grpc"]]),
          body: GRPC_REPLY,
          trailers: () => HeaderList.from([["grpc-status", "0"], ["grpc-message", ""]]),
        });
      })().catch(() => {});
    },
  });
}
