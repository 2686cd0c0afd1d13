"""An auth service in the oauth2-proxy style, for forward_auth tests: a separate process on
Python's own HTTP server, so Gatehouse's subrequests meet an implementation other than its own.

GET /oauth2/auth (oauth2-proxy's auth endpoint):
  - cookie "_oauth2_proxy=<token>" of a known session: 202, X-Auth-Request-User and
    X-Auth-Request-Email of that session;
  - otherwise, a browser (Accept has text/html): 302 to /oauth2/start?rd=<the original URL,
    rebuilt from X-Forwarded-Proto/-Host/-Uri>;
  - otherwise 401 with WWW-Authenticate: Bearer.
GET /slow: answers 202 after --slow seconds (the forward_auth timeout test).
Every request is reported on stdout as one JSON line {"path", "headers"}; the first line is
{"port": N}.

Usage: auth_service.py [--slow SECONDS]
"""

import argparse
import json
import sys
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

SESSIONS = {
    "valid-session-alice": ("alice", "alice@example.com"),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    slow = 0.0

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        print(json.dumps({"path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}),
              flush=True)
        if self.path.startswith("/slow"):
            time.sleep(self.slow)
            self.answer(202, {}, b"")
            return
        if not self.path.startswith("/oauth2/auth"):
            self.answer(404, {"Content-Type": "text/plain"}, b"not found\n")
            return
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        token = cookie["_oauth2_proxy"].value if "_oauth2_proxy" in cookie else None
        session = SESSIONS.get(token)
        if session is not None:
            user, email = session
            self.answer(202, {"X-Auth-Request-User": user, "X-Auth-Request-Email": email}, b"")
            return
        if "text/html" in self.headers.get("Accept", ""):
            original = "%s://%s%s" % (
                self.headers.get("X-Forwarded-Proto", "http"),
                self.headers.get("X-Forwarded-Host", ""),
                self.headers.get("X-Forwarded-Uri", "/"),
            )
            location = "/oauth2/start?rd=" + quote(original, safe="")
            self.answer(302, {"Location": location, "Content-Type": "text/html"},
                        b'<a href="%s">Found</a>\n' % location.encode())
            return
        self.answer(401, {"WWW-Authenticate": 'Bearer realm="oauth2-proxy"',
                          "Content-Type": "text/plain"}, b"Unauthorized\n")

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=float, default=0.0)
    args = parser.parse_args()
    Handler.slow = args.slow
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
