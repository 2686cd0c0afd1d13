#!/usr/bin/python3
"""A gRPC server on python3-grpcio (Debian), for tests of Gatehouse's HTTP/2 client.

Usage: grpc_peer.py serve
Listens on 127.0.0.1 (h2c, a free port), prints the port on stdout, serves until killed.
No protobuf: messages are raw bytes. Methods of service `test.Echo`:
  Unary            replies b"echo:" + request, with trailing metadata x-trailer: yes;
                   a request of b"fail" is aborted with INVALID_ARGUMENT "bad input"
  ServerStream     replies with the request three times
"""
import sys
from concurrent import futures

import grpc


def unary(request, context):
    if request == b"fail":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input")
    context.set_trailing_metadata((("x-trailer", "yes"),))
    return b"echo:" + request


def server_stream(request, context):
    for _ in range(3):
        yield request


def main():
    assert sys.argv[1] == "serve"
    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
