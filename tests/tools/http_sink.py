"""A local HTTP receiver for the Slack and webhook delivery tests, on 127.0.0.1.

Every POST is appended to DIR/requests.jsonl as {"path", "headers", "body"} (the body as
text), then answered with the status given for its path (200 unless --status PATH=CODE).
Prints "port=<n>" once it listens; runs until killed.

usage: http_sink.py DIR [--status /path=503 ...]
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--status", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    statuses = dict((p, int(c)) for p, c in (s.rsplit("=", 1) for s in args.status))
    log = os.path.join(args.dir, "requests.jsonl")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with open(log, "a") as f:
                f.write(json.dumps({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8"),
                }) + "\n")
            status = statuses.get(self.path, 200)
            answer = b"ok" if status < 300 else b"unavailable"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
