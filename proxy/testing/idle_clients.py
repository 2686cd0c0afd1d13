"""Holds idle keep-alive connections for idle_heap.ts.

python3 idle_clients.py PORT COUNT [h1|h2]: opens COUNT connections, makes one GET on each (HTTP/1.1,
or HTTP/2 with prior knowledge) and reads its response, prints "ready", and keeps them open until
stdin closes.
"""
import socket
import struct
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
protocol = sys.argv[3] if len(sys.argv) > 3 else "h1"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


# The HTTP/2 preface, an empty SETTINGS and GET http://a/ on stream 1 (HPACK: static entries and
# one literal authority), END_STREAM and END_HEADERS.
H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 5, 1, b"\x82\x86\x84\x41\x01a")


def h1(sock):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(1024)
        if not chunk:
            raise SystemExit("the server closed a connection")
        data += chunk


def h2(sock):
    sock.sendall(H2_HELLO)
    data = b""
    while True:
        chunk = sock.recv(16384)
        if not chunk:
            raise SystemExit("the server closed a connection")
        data += chunk
        while len(data) >= 9:
            length = int.from_bytes(data[:3], "big")
            if len(data) < 9 + length:
                break
            kind, flags = data[3], data[4]
            data = data[9 + length:]
            if kind == 4 and not flags & 1:
                sock.sendall(frame(4, 1, 0))
            if kind in (0, 1) and flags & 1:
                return


held = []
for _ in range(count):
    sock = socket.create_connection(("127.0.0.1", port))
    (h2 if protocol == "h2" else h1)(sock)
    held.append(sock)
print("ready", flush=True)
sys.stdin.read()
