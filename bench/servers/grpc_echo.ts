/**
 * gRPC upstream for the bench, over h2c with prior knowledge on Gatehouse's HTTP/2 engine
 * (proxy/proto/h2/): `deno run --allow-net bench/servers/grpc_echo.ts PORT`. Python's grpcio
 * serves a few thousand calls a second on one core and would be the bottleneck of every row.
 *
 * Any POST is a call: the request body (gRPC length-prefixed messages) is read to its end, and
 * the answer is one gRPC message (GRPC_REPLY), or for a path ending in `/ServerStream`
 * GRPC_STREAM_MESSAGES of them, each read from the body on its own (so each its own DATA frame), with
 * `content-type: application/grpc` and the trailers `grpc-status: 0`, `grpc-message` empty, as
 * a gRPC server sends them.
 *
 * @module
 */
import { GRPC_STREAM_MESSAGES } from "../lib/layout.ts";
import { HeaderList } from "../../proxy/proto/header_list.ts";
import type { BodyReader } from "../../proxy/proto/message.ts";
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

/** A streamed body of GRPC_STREAM_MESSAGES replies, one per read. */
function stream(): BodyReader {
  let left = GRPC_STREAM_MESSAGES;
  return {
    length: -1,
    read: () => Promise.resolve(left-- > 0 ? GRPC_REPLY : null),
    cancel: () => left = 0,
  };
}

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
          body: req.path.endsWith("/ServerStream") ? stream() : GRPC_REPLY,
          trailers: () => HeaderList.from([["grpc-status", "0"], ["grpc-message", ""]]),
        });
      })().catch(() => {});
    },
  });
}
