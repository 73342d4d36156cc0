#!/usr/bin/env python3
"""Department webhook receiver for fault 5 (stdlib only).

Listens on 127.0.0.1:PORT, checks each POST's signature as the README says
(`X-Atencion-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<raw body>")>`, the same
timestamp in `X-Atencion-Timestamp`, at most 300 s old) and that the body's `key` equals
`X-Atencion-Delivery`. The first attempt of a share of the keys (--fail-share, chosen by a hash of
the key, so retries are exercised) is answered 500; every other valid request 204; an invalid
signature 401. Writes one JSON line per request to --log:
{"key", "status", "sig_ok", "key_ok", "at"}.
"""
import argparse, hashlib, hmac, json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-share", type=float, default=0.1)
    a = ap.parse_args()
    secret = a.secret.encode()
    lock = threading.Lock()
    out = open(a.log, "a")
    seen = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("X-Atencion-Delivery", "")
            ts = self.headers.get("X-Atencion-Timestamp", "")
            fields = dict(p.split("=", 1) for p in self.headers.get("X-Atencion-Signature", "").split(",") if "=" in p)
            t = fields.get("t", "")
            sig_ok = (t.isdigit() and t == ts and abs(time.time() - int(t)) <= 300 and hmac.compare_digest(
                hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest(), fields.get("v1", "")))
            try:
                key_ok = json.loads(body).get("key") == key
            except ValueError:
                key_ok = False
            with lock:
                first = key not in seen
                seen.add(key)
            fail = first and hashlib.sha256(key.encode()).digest()[0] < a.fail_share * 256
            status = 401 if not sig_ok else (500 if fail else 204)
            with lock:
                out.write(json.dumps({"key": key, "status": status, "sig_ok": sig_ok, "key_ok": key_ok,
                                      "at": time.time()}) + "\n")
                out.flush()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
