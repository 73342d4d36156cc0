#!/usr/bin/env python3
"""Duplicate and reordered deliveries (stdlib only): N ticket creations, each sent COPIES times with
the same Idempotency-Key; N inbound mails, each COPIES times with the same Message-ID; N abandoned
calls (call.queued + call.ended), each event COPIES times with the same call id. All requests are
shuffled together and sent by CLIENTS threads at once. Writes one JSON line per answer to --out and
a summary on stdout."""
import argparse, json, random, threading, time, uuid, http.client, queue
from urllib.parse import urlparse

ap = argparse.ArgumentParser()
ap.add_argument("--server", required=True); ap.add_argument("--token", required=True)
ap.add_argument("--n", type=int, default=200); ap.add_argument("--copies", type=int, default=3)
ap.add_argument("--clients", type=int, default=8); ap.add_argument("--out", required=True)
a = ap.parse_args()
u = urlparse(a.server)
run = uuid.uuid4().hex[:8]
reqs = []
for i in range(a.n):
    key = f"dup-{run}-{i}"
    body = json.dumps({"subject": f"Duplicado {i}", "body": "Reintento del cliente.",
                       "requester": {"name": f"Cliente {i}", "email": f"dup{i}@org.cl"}}).encode()
    reqs += [("ticket", key, "/api/v1/tickets", body, {"Content-Type": "application/json", "Idempotency-Key": key})] * a.copies
    mid = f"dup-{run}-{i}@mta.proveedor.cl"
    raw = (f"From: Proveedor {i} <prov{i}@proveedor.cl>\r\nTo: soporte@atencion.localhost\r\n"
           f"Subject: Reenvio {i}\r\nMessage-ID: <{mid}>\r\nDate: Thu, 03 Dec 2026 10:00:00 -0300\r\n\r\n"
           f"Texto {i}.\r\n").encode()
    reqs += [("email", mid, "/api/v1/channels/email/inbound", raw, {"Content-Type": "message/rfc822"})] * a.copies
    cid = f"{run}.{i}"
    t0 = 1764680000 + i * 60
    q = json.dumps({"event": "call.queued", "call_id": cid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
                    "from": f"9 {10000000 + i}", "to": "600 7000 600", "queue": "mesa-de-ayuda", "direction": "in"}).encode()
    e = json.dumps({"event": "call.ended", "call_id": cid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 40)),
                    "cause": "cancel"}).encode()
    for ev in (q, e):
        reqs += [("call", cid, "/api/v1/channels/phone/events", ev, {"Content-Type": "application/json"})] * a.copies
random.shuffle(reqs)
work = queue.Queue()
for r in reqs: work.put(r)
out = open(a.out, "w"); lock = threading.Lock(); statuses = {}

def client():
    while True:
        try: kind, key, path, body, hd = work.get_nowait()
        except queue.Empty: return
        for attempt in range(20):
            try:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                c.request("POST", path, body=body, headers={**hd, "Authorization": f"Bearer {a.token}"})
                r = c.getresponse(); data = r.read(); c.close()
            except OSError:
                time.sleep(0.2); continue
            if r.status in (503, 429): time.sleep(0.2); continue
            break
        try: j = json.loads(data)
        except ValueError: j = {}
        rid = j.get("id") if kind == "ticket" else j.get("ticket_id")
        with lock:
            statuses[f"{kind}:{r.status}"] = statuses.get(f"{kind}:{r.status}", 0) + 1
            out.write(json.dumps({"kind": kind, "key": key, "status": r.status, "id": rid}) + "\n")

t = time.monotonic()
ths = [threading.Thread(target=client) for _ in range(a.clients)]
for th in ths: th.start()
for th in ths: th.join()
print(json.dumps({"requests": len(reqs), "seconds": round(time.monotonic() - t, 2), "statuses": statuses}))
