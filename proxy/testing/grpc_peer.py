#!/usr/bin/python3
"""A gRPC server and client on python3-grpcio (Debian), for tests of Gatehouse's HTTP/2.

No protobuf: messages are raw bytes, methods of service `test.Echo`.

Usage: grpc_peer.py serve [CERT_FILE KEY_FILE]
  Listens on 127.0.0.1 (h2c, or TLS with ALPN h2 given a certificate; a free port), prints the port on stdout, serves until killed;
  prints "cancelled <method>" when a call is cancelled under it. Methods:
  Unary         replies b"echo:" + request, with trailing metadata x-trailer: yes; a request of
                b"fail" is aborted with INVALID_ARGUMENT "bad input" and binary details
                (grpc-status-details-bin) of bytes 0..255; b"size:N" replies N bytes
  ServerStream  replies with the request three times
  ClientStream  replies with the requests joined by b"+"
  Bidi          replies to each request with b"re:" + request as it arrives
  Slow          waits until cancelled (or 30 s), then replies b"late"
  and grpc.health.v1.Health/Check (protobuf by hand): SERVING for "" and "test.Echo",
  NOT_SERVING for "down", NOT_FOUND otherwise

Usage: grpc_peer.py call TARGET MODE [CA_FILE]
  Calls through TARGET ("127.0.0.1:PORT"), over TLS (server name localhost) when CA_FILE is
  given, and prints one JSON object: {"code", "details", "replies" (as latin-1 text, or sizes
  for "big"), "trailers", "details_bin" (hex)}. MODE: unary, fail, server_stream,
  client_stream, bidi, big (8 MiB each way), deadline (Slow with a 0.5 s deadline),
  concurrent (200 unary calls at once on one channel; "replies" is how many succeeded).
"""
import json
import sys
import threading
from concurrent import futures

import grpc

def unary(request, context):
    if request == b"fail":
        context.set_trailing_metadata((("grpc-status-details-bin", bytes(range(256))),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input")
    if request.startswith(b"size:"):
        return b"x" * int(request[5:])
    context.set_trailing_metadata((("x-trailer", "yes"),))
    return b"echo:" + request


def server_stream(request, context):
    for _ in range(3):
        yield request


def client_stream(requests, context):
    return b"+".join(requests)


def bidi(requests, context):
    for r in requests:
        yield b"re:" + r


def slow(request, context):
    stop = threading.Event()
    context.add_callback(stop.set)
    stop.wait(30)
    if not context.is_active():
        print("cancelled Slow", flush=True)
    return b"late"


def health_check(request, context):
    service = request[2:].decode() if request[:1] == b"\x0a" else ""
    if service in ("", "test.Echo"):
        return b"\x08\x01"
    if service == "down":
        return b"\x08\x02"
    context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")


def serve(cert_file=None, key_file=None):
    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    })
    options = [("grpc.max_receive_message_length", 16 << 20),
               ("grpc.max_send_message_length", 16 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=options)
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(health_check),
    })
    server.add_generic_rpc_handlers((handler, health))
    if cert_file:
        with open(cert_file, "rb") as c, open(key_file, "rb") as k:
            creds = grpc.ssl_server_credentials(((k.read(), c.read()),))
        port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


def call(target, mode, ca_file):
    options = [("grpc.max_receive_message_length", 16 << 20),
               ("grpc.max_send_message_length", 16 << 20)]
    if ca_file:
        with open(ca_file, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        options.append(("grpc.ssl_target_name_override", "localhost"))
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    unary_call = channel.unary_unary("/test.Echo/Unary")
    out = {"code": "OK", "details": None, "replies": [], "trailers": {}, "details_bin": None}

    def text(b):
        return b.decode("latin-1")

    try:
        if mode == "unary":
            reply, c = unary_call.with_call(b"hello", timeout=10)
            out["replies"] = [text(reply)]
            out["trailers"] = {k: v for k, v in c.trailing_metadata() if not k.endswith("-bin")}
        elif mode == "fail":
            unary_call(b"fail", timeout=10)
        elif mode == "big":
            body = b"y" * (8 << 20)
            reply = unary_call(b"size:%d" % (8 << 20), timeout=30)
            echoed = unary_call(body, timeout=30)
            out["replies"] = [len(reply), len(echoed)]
        elif mode == "server_stream":
            s = channel.unary_stream("/test.Echo/ServerStream")(b"tick", timeout=10)
            out["replies"] = [text(r) for r in s]
        elif mode == "client_stream":
            reply = channel.stream_unary("/test.Echo/ClientStream")(
                iter([b"a", b"b", b"c"]), timeout=10)
            out["replies"] = [text(reply)]
        elif mode == "bidi":
            s = channel.stream_stream("/test.Echo/Bidi")(iter([b"1", b"2", b"3"]), timeout=10)
            out["replies"] = [text(r) for r in s]
        elif mode == "deadline":
            channel.unary_unary("/test.Echo/Slow")(b"", timeout=0.5)
        elif mode == "concurrent":
            calls = [unary_call.future(b"c%d" % i, timeout=30) for i in range(200)]
            ok = sum(1 for i, f in enumerate(calls) if f.result() == b"echo:c%d" % i)
            out["replies"] = [ok]
        else:
            raise SystemExit("unknown mode " + mode)
    except grpc.RpcError as e:
        out["code"] = e.code().name
        out["details"] = e.details()
        for k, v in e.trailing_metadata() or ():
            if k == "grpc-status-details-bin":
                out["details_bin"] = v.hex()
    print(json.dumps(out), flush=True)


def main():
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:4])
    elif sys.argv[1] == "call":
        call(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
