"""Holds idle keep-alive HTTP/1.1 connections for h1_idle_heap.ts.

python3 idle_clients.py PORT COUNT: opens COUNT connections, sends one GET on each and reads
its response (ending in "ok"), prints "ready", and keeps them open until stdin closes.
"""
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(1024)
        if not chunk:
            raise SystemExit("the server closed a connection")
        data += chunk
    held.append(sock)
print("ready", flush=True)
sys.stdin.read()
