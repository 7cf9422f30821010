"""The example web app: answers every request with its version.

It serves on 127.0.0.1:$PORT (given by the local_service resource), answers
/healthz with 200 when healthy (every other path with 500 once in FAIL_EVERY
requests, for a release that breaks under traffic), and on SIGTERM finishes the request in hand
before exiting, so a balancer that has moved traffic away loses nothing.
"""

import http.server
import os
import signal
import threading

VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()
HEALTHY = os.environ.get("HEALTHY", "1") == "1"
# A release that starts fine and then fails under traffic: every n-th
# request (0: none) is answered 500.
FAIL_EVERY = int(os.environ.get("FAIL_EVERY", "0"))
served = 0
served_lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/healthz":
            status, body = (200, b"ok\n") if HEALTHY else (500, b"unhealthy\n")
        else:
            global served
            with served_lock:
                served += 1
                n = served
            if FAIL_EVERY and n % FAIL_EVERY == 0:
                status, body = 500, f"error from {VERSION}\n".encode()
            else:
                status, body = 200, f"hello from {VERSION}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.daemon_threads = False
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
