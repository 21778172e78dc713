"""A real SMTP server for the report delivery tests (aiosmtpd), on 127.0.0.1.

Each accepted message is written to DIR/<n>.eml as received, and DIR/<n>.json as Python's
email package parses it: envelope, headers, the MIME tree (content types, content ids,
dispositions, file names, decoded sizes), the text and HTML bodies, and whether the session
was TLS and authenticated. Prints "port=<n>" once it accepts connections; runs until killed.

usage: smtp_sink.py DIR [--reject] [--tls CERT KEY] [--auth USER:PASSWORD]
  --reject  answer every message with 550 (a permanent rejection)
  --tls     offer STARTTLS with this certificate, and require it
  --auth    require AUTH (PLAIN or LOGIN) with these credentials, after STARTTLS
"""

import argparse
import asyncio
import email
import json
import os
import socket
import ssl
import sys
import time
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out, reject):
        self.out = out
        self.reject = reject
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.reject:
            return "550 5.7.1 Message rejected by the test server"
        self.count += 1
        n = self.count
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=policy.default)
        parts = []
        for part in msg.walk():
            payload = b"" if part.is_multipart() else (part.get_payload(decode=True) or b"")
            parts.append({
                "content_type": part.get_content_type(),
                "content_id": part.get("Content-ID"),
                "disposition": part.get_content_disposition(),
                "filename": part.get_filename(),
                "size": len(payload),
                "head": payload[:16].hex(),
            })
        html = msg.get_body(preferencelist=("html",))
        text = msg.get_body(preferencelist=("plain",))
        auth = session.auth_data
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": msg["Subject"],
            "from": msg["From"],
            "to": msg["To"],
            "cc": msg["Cc"],
            "message_id": msg["Message-ID"],
            "date": msg["Date"],
            "mime_version": msg["MIME-Version"],
            "parts": parts,
            "html": html.get_content() if html is not None else None,
            "text": text.get_content() if text is not None else None,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "login": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "size": len(raw),
        }
        with open(os.path.join(self.out, f"{n}.eml"), "wb") as f:
            f.write(raw)
        tmp = os.path.join(self.out, f".{n}.json")
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.rename(tmp, os.path.join(self.out, f"{n}.json"))
        return "250 2.0.0 OK: queued"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--reject", action="store_true")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    kwargs = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, auth_data=auth_data if ok else None)

        kwargs.update(authenticator=authenticator, auth_require_tls=bool(args.tls),
                      auth_required=True)

    port = free_port()
    controller = Controller(Sink(args.dir, args.reject), hostname="127.0.0.1", port=port,
                            server_hostname="localhost", **kwargs)
    controller.start()
    print(f"port={port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
