"""The example web app: answers every request with its version.

It serves on 127.0.0.1:$PORT (given by the local_service resource), answers
/healthz with 200 when healthy, and on SIGTERM finishes the request in hand
before exiting, so a balancer that has moved traffic away loses nothing.
"""

import http.server
import os
import signal
import threading

VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()
HEALTHY = os.environ.get("HEALTHY", "1") == "1"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/healthz":
            status, body = (200, b"ok\n") if HEALTHY else (500, b"unhealthy\n")
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
