#!/usr/bin/env python3
"""Routing churn for fault 5 (stdlib only).

`setup`: makes the queue `mesa-de-ayuda` round robin with AGENTS new agents (capacity 2 per
written channel, half of them available), and a routing rule sending every api/email ticket to it
(so each new ticket gets a `routed` event). Prints {"queue": id, "agents": [{"id", "token"}]}.

`run`: for --duration seconds, one thread per replica makes the things that hand out waiting work
happen on that replica at the same time as the others: an agent's capacity grows by one (PATCH
/agents/{id}/routing: drains every queue of the agent; one raise per agent in flight, so capacity
never goes down), presence away → available (drains), and
pull mode (POST /queues/{id}/next as the agent). Capacity only grows and nothing is ever
unassigned, so afterwards every ticket must have at most one `assignee_changed` event.
Prints a summary JSON (actions and statuses per kind).
"""
import argparse, http.client, json, random, sys, threading, time
from urllib.parse import urlparse


def call(server, method, path, token, body=None, timeout=15):
    u = urlparse(server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw and r.status != 204 else None)
    finally:
        conn.close()


def must(status_body, *ok):
    st, body = status_body
    if st not in ok:
        sys.exit(f"setup: unexpected {st}: {body}")
    return body


def setup(a):
    s, admin = a.servers[0], a.admin
    queues = must(call(s, "GET", "/api/v1/queues", admin), 200)
    queue = [q["id"] for q in queues if q["slug"] == "mesa-de-ayuda"][0]
    agents = []
    for i in range(a.agents):
        ag = must(call(s, "POST", "/api/v1/agents", admin, {"name": f"Agente réplicas {i}", "role": "agent",
                                                              "email": f"agente{i}@atencion.localhost"}), 201)
        tok = must(call(s, "POST", f"/api/v1/agents/{ag['id']}/tokens", admin, {"name": "falla-replicas"}), 201)
        must(call(s, "PATCH", f"/api/v1/agents/{ag['id']}/routing", admin,
                  {"capacity": {"phone": 1, "email": 2, "web": 2, "api": 2}}), 200)
        presence = "available" if i % 2 == 0 else "away"
        must(call(s, "PUT", f"/api/v1/agents/{ag['id']}/presence", admin, {"presence": presence}), 200)
        agents.append({"id": ag["id"], "token": tok["token"]})
    must(call(s, "PATCH", f"/api/v1/queues/{queue}/routing", admin,
              {"strategy": "round_robin", "members": [x["id"] for x in agents]}), 200)
    must(call(s, "POST", "/api/v1/routing/rules", admin,
              {"name": "Falla réplicas: todo a mesa de ayuda", "position": 1,
               "conditions": {"channel": ["api", "email"]},
               "actions": {"queue": "mesa-de-ayuda", "tags": ["falla-replicas"]}}), 201)
    print(json.dumps({"queue": queue, "agents": agents}))


def run(a):
    cfg = json.load(open(a.config))
    queue, agents = cfg["queue"], cfg["agents"]
    end = time.monotonic() + a.duration
    lock = threading.Lock()
    stats = {}
    capacity = {x["id"]: 2 for x in agents}
    agent_locks = {x["id"]: threading.Lock() for x in agents}

    def count(kind, status):
        with lock:
            k = stats.setdefault(kind, {})
            k[str(status)] = k.get(str(status), 0) + 1

    def worker(i, server):
        rnd = random.Random(i * 104729 + int(time.time()))
        while time.monotonic() < end:
            ag = rnd.choice(agents)
            what = rnd.random()
            try:
                if what < 0.3:
                    # One raise per agent at a time: two in flight could commit out of order and
                    # lower the capacity, which the over-capacity check would then misread.
                    with agent_locks[ag["id"]]:
                        c = capacity[ag["id"]] + 1
                        st, _ = call(server, "PATCH", f"/api/v1/agents/{ag['id']}/routing", a.admin,
                                     {"capacity": {"phone": 1, "email": c, "web": c, "api": c}})
                        if st == 200:
                            capacity[ag["id"]] = c
                    count("capacity", st)
                elif what < 0.6:
                    for p in ("away", "available"):
                        st, _ = call(server, "PUT", f"/api/v1/agents/{ag['id']}/presence", a.admin, {"presence": p})
                        count("presence", st)
                else:
                    st, _ = call(server, "POST", f"/api/v1/queues/{queue}/next", ag["token"])
                    count("pull", st)
            except (OSError, http.client.HTTPException) as e:
                count("error", type(e).__name__)
            time.sleep(a.pause)

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(a.servers)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"stats": stats, "final_capacity": capacity}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["setup", "run"])
    ap.add_argument("--servers", required=True, help="comma-separated base URLs, one per replica")
    ap.add_argument("--admin", required=True)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--config", help="output of setup (run mode)")
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--pause", type=float, default=0.05)
    a = ap.parse_args()
    a.servers = a.servers.split(",")
    setup(a) if a.mode == "setup" else run(a)


if __name__ == "__main__":
    main()
