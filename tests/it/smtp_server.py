#!/usr/bin/env python3
"""A real SMTP server for the mail tests (aiosmtpd).

    smtp_server.py --port PORT --out DIR [--data-replies 451,250] [--reject SUBSTRING]
        Listens on 127.0.0.1:PORT and prints "READY" once it accepts connections. Each
        message accepted at the end of DATA is written to DIR/NNNN.json, parsed: envelope,
        Message-ID, Subject, the text and HTML parts, and the raw message.
        --data-replies: the reply to the end of DATA for the first messages, in order
        (e.g. 451 for "try again later"); afterwards every message gets 250.
        --reject: RCPT TO of an address containing SUBSTRING gets 550 (no such user).

    smtp_server.py --parse FILE
        Prints the same JSON for an .eml file.
"""

import argparse
import email
import json
import os
import sys
import threading
from email import policy


def parsed(raw, mail_from=None, rcpt_tos=None):
    msg = email.message_from_bytes(raw, policy=policy.default)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    return {
        "mail_from": mail_from,
        "rcpt_tos": rcpt_tos,
        "message_id": msg["Message-ID"],
        "date": msg["Date"],
        "from": msg["From"],
        "to": msg["To"],
        "subject": msg["Subject"],
        "content_type": msg.get_content_type(),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "raw": raw.decode("utf-8", "replace"),
    }


class Handler:
    def __init__(self, out, data_replies, reject):
        self.out = out
        self.data_replies = list(data_replies)
        self.reject = reject
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            return "550 5.1.1 <%s>: Recipient address rejected: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            code = self.data_replies.pop(0) if self.data_replies else 250
            if code >= 500:
                return "%d 5.7.1 Message refused by the test server" % code
            if code >= 400:
                return "%d 4.3.0 Temporary failure, try again later" % code
            self.count += 1
            n = self.count
        record = parsed(envelope.original_content or envelope.content,
                        envelope.mail_from, list(envelope.rcpt_tos))
        tmp = os.path.join(self.out, ".%04d.json.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, "%04d.json" % n))
        return "250 2.0.0 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--out")
    ap.add_argument("--data-replies", default="")
    ap.add_argument("--reject", default="")
    ap.add_argument("--parse")
    args = ap.parse_args()
    if args.parse:
        with open(args.parse, "rb") as f:
            json.dump(parsed(f.read()), sys.stdout)
        return
    from aiosmtpd.controller import Controller

    replies = [int(c) for c in args.data_replies.split(",") if c.strip()]
    os.makedirs(args.out, exist_ok=True)
    controller = Controller(Handler(args.out, replies, args.reject),
                            hostname="127.0.0.1", port=args.port)
    controller.start()
    print("READY", flush=True)
    try:
        # Until the test ends this process (or closes its standard input).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
