#!/usr/bin/python3
"""HTTP/2 client scenarios on python3-h2 (Debian), for tests of Gatehouse's HTTP/2 engine.

Usage: h2_peer.py SCENARIO HOST PORT [--tls CAFILE]
Prints one JSON object with what the scenario saw; exits 0 unless the peer itself failed.

Scenarios:
  trailers   POST with a body and trailers; reports the echoed body and response trailers
  reset      GET a large body, RST_STREAM(CANCEL) after the first DATA, then GET / again
  connect    extended CONNECT (RFC 8441, :protocol websocket): bytes both ways, half-close
  malformed  an uppercase field name and a connection-specific field, then a valid GET
  websocket  WebSocket over HTTP/2 (RFC 8441): extended CONNECT, a masked text frame, its echo,
             a close handshake, END_STREAM; reports the frames the server sent
"""
import os
import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def connect(host, port, cafile, validate=True):
    sock = socket.create_connection((host, port), timeout=10)
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding="utf-8",
        validate_outbound_headers=validate,
        normalize_outbound_headers=validate,
    )
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


class Exchange:
    """What one stream received."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.trailers = {}
        self.ended = False
        self.reset = None


SETTINGS_SEEN = []


def pump(sock, conn, exchanges, until):
    """Reads and handles events until `until()` is true."""
    while not until():
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        for event in conn.receive_data(data):
            ex = exchanges.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived):
                ex.headers = dict(event.headers)
                ex.status = int(ex.headers[":status"])
            elif isinstance(event, h2.events.TrailersReceived):
                ex.trailers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                if ex is not None:
                    ex.body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                ex.ended = True
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                SETTINGS_SEEN.append(True)
            elif isinstance(event, h2.events.StreamReset):
                if ex is not None:
                    ex.reset = int(event.error_code)
        sock.sendall(conn.data_to_send())


def request(conn, host, port, method, path, extra=(), end_stream=True):
    sid = conn.get_next_available_stream_id()
    headers = [(":method", method), (":scheme", "https"), (":path", path),
               (":authority", "%s:%d" % (host, port))] + list(extra)
    conn.send_headers(sid, headers, end_stream=end_stream)
    return sid


def trailers(host, port, cafile):
    sock, conn = connect(host, port, cafile)
    sid = request(conn, host, port, "POST", "/echo", end_stream=False)
    conn.send_data(sid, b"hello trailers")
    conn.send_headers(sid, [("x-check", "1"), ("grpc-status", "0")], end_stream=True)
    sock.sendall(conn.data_to_send())
    ex = {sid: Exchange()}
    pump(sock, conn, ex, lambda: ex[sid].ended or ex[sid].reset is not None)
    return {"status": ex[sid].status, "body": ex[sid].body.decode(), "trailers": ex[sid].trailers}


def reset(host, port, cafile):
    sock, conn = connect(host, port, cafile)
    sid = request(conn, host, port, "GET", "/bytes/50000000")
    sock.sendall(conn.data_to_send())
    ex = {sid: Exchange()}
    pump(sock, conn, ex, lambda: len(ex[sid].body) > 0)
    conn.reset_stream(sid, 8)
    sock.sendall(conn.data_to_send())
    second = request(conn, host, port, "GET", "/")
    sock.sendall(conn.data_to_send())
    ex[second] = Exchange()
    pump(sock, conn, ex, lambda: ex[second].ended)
    return {"received_before_reset": len(ex[sid].body), "second_status": ex[second].status,
            "second_body": ex[second].body.decode()}


def connect_tunnel(host, port, cafile):
    sock, conn = connect(host, port, cafile)
    ex = {}
    pump(sock, conn, ex, lambda: SETTINGS_SEEN)
    enabled = conn.remote_settings.enable_connect_protocol
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"),
                            (":scheme", "https" if cafile else "http"), (":path", "/chat"),
                            (":authority", "%s:%d" % (host, port)),
                            ("sec-websocket-version", "13")], end_stream=False)
    sock.sendall(conn.data_to_send())
    ex[sid] = Exchange()
    pump(sock, conn, ex, lambda: ex[sid].status is not None or ex[sid].reset is not None)
    if ex[sid].reset is not None:
        return {"enable_connect_protocol": enabled, "status": None, "reset": ex[sid].reset}
    conn.send_data(sid, b"ping one")
    sock.sendall(conn.data_to_send())
    pump(sock, conn, ex, lambda: ex[sid].body == b"ping one" or ex[sid].reset is not None)
    first = ex[sid].body.decode()
    conn.send_data(sid, b"ping two", end_stream=True)
    sock.sendall(conn.data_to_send())
    pump(sock, conn, ex, lambda: ex[sid].ended or ex[sid].reset is not None)
    return {"enable_connect_protocol": enabled, "status": ex[sid].status, "first": first,
            "all": ex[sid].body.decode(), "ended": ex[sid].ended, "reset": ex[sid].reset}


def ws_frame(opcode, payload):
    """A masked client frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def ws_frames(data):
    """The complete unmasked server frames in `data`: [(opcode, payload)]."""
    out = []
    while len(data) >= 2:
        n = data[1] & 0x7F
        if n >= 126 or len(data) < 2 + n:
            break
        out.append((data[0] & 0x0F, data[2:2 + n]))
        data = data[2 + n:]
    return out


def websocket(host, port, cafile):
    sock, conn = connect(host, port, cafile)
    ex = {}
    pump(sock, conn, ex, lambda: SETTINGS_SEEN)
    enabled = conn.remote_settings.enable_connect_protocol
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"),
                            (":scheme", "https" if cafile else "http"), (":path", "/ws"),
                            (":authority", "%s:%d" % (host, port)),
                            ("sec-websocket-version", "13")], end_stream=False)
    sock.sendall(conn.data_to_send())
    ex[sid] = Exchange()
    pump(sock, conn, ex, lambda: ex[sid].status is not None or ex[sid].reset is not None)
    result = {"enable_connect_protocol": enabled, "status": ex[sid].status,
              "headers": {k: v for k, v in ex[sid].headers.items() if not k.startswith(":")}}
    if ex[sid].status != 200:
        result["reset"] = ex[sid].reset
        return result
    conn.send_data(sid, ws_frame(0x1, b"hello over h2"))
    sock.sendall(conn.data_to_send())
    pump(sock, conn, ex, lambda: len(ws_frames(ex[sid].body)) >= 1 or ex[sid].reset is not None)
    conn.send_data(sid, ws_frame(0x8, (1000).to_bytes(2, "big") + b"bye"))
    sock.sendall(conn.data_to_send())
    pump(sock, conn, ex, lambda: len(ws_frames(ex[sid].body)) >= 2 or ex[sid].reset is not None
         or ex[sid].ended)
    conn.end_stream(sid)
    sock.sendall(conn.data_to_send())
    pump(sock, conn, ex, lambda: ex[sid].ended or ex[sid].reset is not None)
    frames = ws_frames(ex[sid].body)
    result["frames"] = [[op, payload.decode("latin-1")] for op, payload in frames]
    result["ended"] = ex[sid].ended
    result["reset"] = ex[sid].reset
    return result


def malformed(host, port, cafile):
    sock, conn = connect(host, port, cafile, validate=False)
    ex = {}
    bad1 = request(conn, host, port, "GET", "/", [("X-Upper", "1")])
    bad2 = request(conn, host, port, "GET", "/", [("connection", "keep-alive")])
    good = request(conn, host, port, "GET", "/")
    sock.sendall(conn.data_to_send())
    for sid in (bad1, bad2, good):
        ex[sid] = Exchange()
    pump(sock, conn, ex, lambda: ex[good].ended and ex[bad1].reset is not None
         and ex[bad2].reset is not None)
    return {"upper_reset": ex[bad1].reset, "connection_reset": ex[bad2].reset,
            "good_status": ex[good].status}


def main():
    scenario, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cafile = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--tls" else None
    run = {"trailers": trailers, "reset": reset, "connect": connect_tunnel,
           "malformed": malformed, "websocket": websocket}[scenario]
    print(json.dumps(run(host, port, cafile)))


if __name__ == "__main__":
    main()
