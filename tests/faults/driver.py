#!/usr/bin/env python3
"""Load driver for the fault scripts (stdlib only).

Each client loops creating tickets (POST /api/v1/tickets with an Idempotency-Key) and posting
inbound mail (POST /api/v1/channels/email/inbound, unique Message-ID). A request that fails
(connection refused/reset while the server is down, 5xx) is retried with the SAME key or
Message-ID, as a real client or MTA would, until it gets an answer or the run ends.
Every 2xx is written to --out as one JSON line: {"kind","key","status","id"}; every non-2xx
status is counted. Summary JSON on stdout at the end.
"""
import argparse, http.client, json, random, sys, threading, time, uuid
from urllib.parse import urlparse

def request(host, port, method, path, body, headers, timeout=10):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
    finally:
        conn.close()

def mail(msgid, n):
    return (f"From: Remitente {n} <remitente{n}@proveedor.cl>\r\n"
            f"To: soporte@atencion.localhost\r\n"
            f"Subject: Consulta {n} sobre orden de compra\r\n"
            f"Message-ID: <{msgid}>\r\n"
            f"Date: Thu, 03 Dec 2026 10:00:00 -0300\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"No puedo ver la orden de compra {n}.\r\n").encode()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--email-share", type=float, default=0.3, help="fraction of inbound mails")
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-file", default=None, help="stop early when this file exists")
    a = ap.parse_args()
    u = urlparse(a.server)
    host, port = u.hostname, u.port
    end = time.monotonic() + a.duration
    lock = threading.Lock()
    out = open(a.out, "a")
    stats = {"requests": 0, "ok": 0, "conn_errors": 0, "statuses": {}, "gave_up": 0,
             "retry_after_missing": 0}
    seq = [0]

    def record(key, val=1):
        with lock:
            stats[key] = stats.get(key, 0) + val

    def client(cid):
        rnd = random.Random(cid * 7919 + int(time.time()))
        while time.monotonic() < end:
            if a.stop_file and __import__("os").path.exists(a.stop_file):
                return
            with lock:
                seq[0] += 1
                n = seq[0]
            if rnd.random() < a.email_share:
                kind, key = "email", f"{uuid.uuid4()}@fault.proveedor.cl"
                body = mail(key, n)
                path = "/api/v1/channels/email/inbound"
                headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "message/rfc822"}
            else:
                kind, key = "ticket", str(uuid.uuid4())
                # An integration that acknowledges its users itself: the outbox load stays the
                # mail channel's (acknowledging API tickets too would queue ~10 times more mail
                # than the short CI runs have time to send).
                body = json.dumps({"subject": f"Falla {n}: no puedo ofertar", "acknowledge": False,
                                   "body": "El sistema no me deja enviar la oferta.",
                                   "requester": {"name": f"Usuario {n}", "email": f"u{n % 500}@org{n % 37}.cl"},
                                   "priority": "normal"}).encode()
                path = "/api/v1/tickets"
                headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json",
                           "Idempotency-Key": key}
            # Retry the same request until answered 2xx/4xx or the run is over (+10 s grace).
            while True:
                record("requests")
                try:
                    st, hd, data = request(host, port, "POST", path, body, headers)
                except (OSError, http.client.HTTPException):
                    record("conn_errors")
                    if time.monotonic() > end + 10:
                        record("gave_up"); break
                    time.sleep(0.1)
                    continue
                with lock:
                    stats["statuses"][str(st)] = stats["statuses"].get(str(st), 0) + 1
                if 200 <= st < 300:
                    rid = None
                    try:
                        j = json.loads(data)
                        rid = j.get("id") if kind == "ticket" else j.get("ticket_id")
                    except ValueError:
                        pass
                    with lock:
                        out.write(json.dumps({"kind": kind, "key": key, "status": st, "id": rid}) + "\n")
                        out.flush()
                    record("ok")
                    break
                if st == 503 and "retry-after" not in hd:
                    record("retry_after_missing")
                if st >= 500 or st == 429:
                    if time.monotonic() > end + 10:
                        record("gave_up"); break
                    time.sleep(0.2)
                    continue
                break  # 4xx: a bug in the driver or the service; counted in statuses
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    out.close()
    print(json.dumps(stats))

if __name__ == "__main__":
    main()
