"""A raw HTTP/2 client for the tests (python3-h2 4.1, Debian): sends header blocks exactly as
given (repeated fields, any name, any pseudo-header, no validation or normalisation), which
curl, nghttp and Deno's fetch refuse to do.

Run it with the Debian python (/usr/bin/python3), which has the package.

  h2_raw.py PORT CAFILE SERVERNAME   (one JSON document on stdin, one on stdout)

stdin:  {"requests": [{"headers": [[name, value], ...], "data": ["chunk", ...], "end": true}]}
        Each request is opened on its own stream, one after the other (each waits for the
        previous one to finish). "data" chunks (latin-1 strings) are sent as DATA frames; "end"
        false leaves the stream open after them (default true).
stdout: {"responses": [{"status": 200, "headers": [[name, value], ...], "body": "latin-1",
        "reset": null | "PROTOCOL_ERROR" ...}], "goaway": null | "PROTOCOL_ERROR" ...}
        A server that breaks the protocol ends the run with reset and goaway
        "CLIENT_SAW_PROTOCOL_ERROR...".
"""

import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def connect(port, cafile, server_name):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2"])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ctx.wrap_socket(sock, server_hostname=server_name)
    if tls.selected_alpn_protocol() != "h2":
        raise SystemExit("the server did not negotiate h2")
    return tls


def main():
    port, cafile, server_name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    spec = json.load(sys.stdin)
    sock = connect(port, cafile, server_name)
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding="latin-1",
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    results = []
    goaway = None
    for req in spec["requests"]:
        stream = conn.get_next_available_stream_id()
        data = [chunk.encode("latin-1") for chunk in req.get("data", [])]
        end = req.get("end", True)
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in req["headers"]]
        conn.send_headers(stream, headers, end_stream=end and not data)
        for i, chunk in enumerate(data):
            conn.send_data(stream, chunk, end_stream=end and i == len(data) - 1)
        sock.sendall(conn.data_to_send())
        result = {"status": None, "headers": [], "body": "", "reset": None}
        results.append(result)
        body = b""
        finished = False
        while not finished and goaway is None:
            try:
                incoming = sock.recv(65536)
            except (socket.timeout, ConnectionError):
                result["reset"] = "CONNECTION_LOST"
                break
            if not incoming:
                result["reset"] = "CONNECTION_CLOSED"
                break
            try:
                events = conn.receive_data(incoming)
            except h2.exceptions.ProtocolError as err:
                # The server broke the protocol (e.g. DATA on a HEAD answer): say so, stop.
                result["reset"] = "CLIENT_SAW_PROTOCOL_ERROR: " + type(err).__name__
                goaway = "CLIENT_SAW_PROTOCOL_ERROR"
                break
            for event in events:
                if getattr(event, "stream_id", stream) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    result["headers"] = [[n, v] for n, v in event.headers]
                    result["status"] = int(dict(event.headers)[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded):
                    finished = True
                elif isinstance(event, h2.events.StreamReset):
                    result["reset"] = event.error_code.name
                    finished = True
                elif isinstance(event, h2.events.ConnectionTerminated):
                    goaway = event.error_code.name
            sock.sendall(conn.data_to_send())
        result["body"] = body.decode("latin-1")
        if goaway is not None:
            break
    try:
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        sock.close()
    except (OSError, h2.exceptions.ProtocolError):
        pass
    json.dump({"responses": results, "goaway": goaway}, sys.stdout)


if __name__ == "__main__":
    main()
