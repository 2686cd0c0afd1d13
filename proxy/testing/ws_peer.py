"""WebSocket peers of another implementation (python3-websockets 10.4, Debian) for the tests.

Run it with the Debian python (/usr/bin/python3), which has the package.

  ws_peer.py serve [--protocols a,b]
      Echo server on 127.0.0.1:0 (max_size unlimited, permessage-deflate offered). Prints
      {"port": N}, then one JSON line per finished session. Text messages "cmd:..." are commands:
      "cmd:close <code> <reason>", "cmd:ping" (ping the client, answer "pong-ok" when the pong
      came back), "cmd:fragments <n>" (send one text message in n fragments).

  ws_peer.py client URL SCENARIO [--cafile F] [--protocols a,b] [--header "Name: value"]
                                 [--size N] [--count N] [--code N] [--reason R] [--no-compression]
      Runs one scenario and prints its result as one JSON line; exits 1 when the scenario fails.
      Scenarios: echo, big, deflate, fragments, close, server-close, ordered.
"""

import argparse
import asyncio
import hashlib
import json
import random
import ssl
import sys

import websockets
from websockets.exceptions import InvalidStatusCode


def sha256(data):
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def command(ws, text):
    name, _, rest = text.partition(" ")
    if name == "close":
        code, _, reason = rest.partition(" ")
        await ws.close(int(code), reason)
    elif name == "ping":
        await (await ws.ping(b"from-upstream"))
        await ws.send("pong-ok")
    elif name == "fragments":
        await ws.send([f"frag{i}|" for i in range(int(rest))])


async def serve_session(ws, path=None):
    received = []
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("cmd:"):
                await command(ws, msg[4:])
                continue
            received.append({"size": len(msg), "sha256": sha256(msg)} if len(msg) >= 1 << 20 else None)
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit({
        "path": ws.path,
        "headers": [[k, v] for k, v in ws.request_headers.raw_items()],
        "subprotocol": ws.subprotocol,
        "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        "close_code": ws.close_code,
        "close_reason": ws.close_reason,
        "messages": len(received),
        "large": [r for r in received if r is not None],
    })


async def serve(args):
    protocols = args.protocols.split(",") if args.protocols else None
    async with websockets.serve(serve_session, "127.0.0.1", 0, max_size=None,
                                subprotocols=protocols, ping_interval=None) as server:
        emit({"port": server.sockets[0].getsockname()[1]})
        await asyncio.Future()


async def scenario_echo(ws, args):
    text = "h\u00e9llo \u2713 through the proxy"
    binary = bytes(range(256)) * 4
    await ws.send(text)
    got_text = await ws.recv()
    await ws.send(binary)
    got_binary = await ws.recv()
    return {"ok": got_text == text and got_binary == binary}


async def scenario_big(ws, args):
    data = random.Random(args.size).randbytes(args.size)
    sent = sha256(data)
    await ws.send(data)
    del data
    got = await ws.recv()
    return {"ok": isinstance(got, bytes) and sha256(got) == sent, "sent_sha256": sent,
            "received_sha256": sha256(got), "received_size": len(got)}


async def scenario_deflate(ws, args):
    text = "all work and no play makes a dull proxy. " * (args.size // 41)
    await ws.send(text)
    got = await ws.recv()
    return {"ok": got == text, "size": len(text)}


async def scenario_fragments(ws, args):
    parts = [bytes([i]) * 1000 for i in range(5)]

    async def fragments():
        for part in parts:
            yield part

    await ws.send(fragments())
    echoed = await ws.recv()
    await ws.send("cmd:fragments 4")
    assembled = await ws.recv()
    await (await ws.ping(b"from-client"))
    await ws.send("cmd:ping")
    server_ping = await ws.recv()
    return {"ok": echoed == b"".join(parts) and assembled == "frag0|frag1|frag2|frag3|"
            and server_ping == "pong-ok"}


async def scenario_close(ws, args):
    await ws.close(args.code, args.reason)
    return {"ok": True, "close_code": ws.close_code, "close_reason": ws.close_reason}


async def scenario_server_close(ws, args):
    await ws.send(f"cmd:close {args.code} {args.reason}")
    await ws.wait_closed()
    return {"ok": ws.close_code == args.code, "close_code": ws.close_code,
            "close_reason": ws.close_reason}


async def scenario_ordered(ws, args):
    for i in range(args.count):
        await ws.send(f"m{i}")
    got = [await ws.recv() for _ in range(args.count)]
    return {"ok": got == [f"m{i}" for i in range(args.count)], "count": len(got)}


SCENARIOS = {
    "echo": scenario_echo,
    "big": scenario_big,
    "deflate": scenario_deflate,
    "fragments": scenario_fragments,
    "close": scenario_close,
    "server-close": scenario_server_close,
    "ordered": scenario_ordered,
}


async def client(args):
    context = ssl.create_default_context(cafile=args.cafile) if args.url.startswith("wss:") else None
    headers = [tuple(h.split(": ", 1)) for h in args.header]
    try:
        ws = await websockets.connect(
            args.url, ssl=context, max_size=None, ping_interval=None,
            subprotocols=args.protocols.split(",") if args.protocols else None,
            extra_headers=headers, compression=None if args.no_compression else "deflate")
    except InvalidStatusCode as e:
        emit({"ok": False, "refused": e.status_code})
        return 0
    try:
        result = await SCENARIOS[args.scenario](ws, args)
    finally:
        await ws.close()
    result["subprotocol"] = ws.subprotocol
    result["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
    emit(result)
    return 0 if result["ok"] else 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--protocols")
    c = sub.add_parser("client")
    c.add_argument("url")
    c.add_argument("scenario", choices=SCENARIOS)
    c.add_argument("--cafile")
    c.add_argument("--protocols")
    c.add_argument("--header", action="append", default=[])
    c.add_argument("--size", type=int, default=1 << 20)
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--code", type=int, default=4001)
    c.add_argument("--reason", default="bye")
    c.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(serve(args) if args.mode == "serve" else client(args)) or 0)


if __name__ == "__main__":
    main()
