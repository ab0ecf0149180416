"""An example Alertmanager webhook receiver: prints each notification as one JSON line.

Run by the `alert-webhook` service of docker-compose.yml (`docker compose logs -f
alert-webhook`); replace it with your own endpoint in alertmanager/alertmanager.yml. Standard
library only. The payload format is Alertmanager's webhook format (version 4): `status`,
`groupLabels`, `commonLabels`, `commonAnnotations` and `alerts`, each alert with its `labels`,
`annotations`, `startsAt`, `endsAt` and `fingerprint`.

    python webhook-receiver.py [HOST:PORT]   # default 0.0.0.0:9095
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # Alertmanager caps a notification far below this
#: Notifications arrive concurrently: one whole line at a time on stdout.
_OUTPUT = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        """One notification: print it as a JSON line, answer 200."""
        declared = self.headers.get("content-length") or ""
        length = int(declared) if declared.isdigit() else 0
        if not 0 < length <= MAX_BODY:
            self.send_error(413 if length else 411)  # 411: missing, malformed or empty
            return
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            self.send_error(400, "not JSON")
            return
        with _OUTPUT:
            sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
            sys.stdout.flush()
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        """Health: 200 on /healthz (the compose healthcheck)."""
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per notification on stdout, nothing else


def main() -> None:
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0:9095").rpartition(":")
    ThreadingHTTPServer((host, int(port)), Receiver).serve_forever()


if __name__ == "__main__":
    main()
