#!/usr/bin/env python3
"""Redis cost per message: CPU microseconds and calls, from INFO cpu and
INFO commandstats deltas over N messages, for the message path (issue #15):
a direct message with the recipient online and offline, a message to a group
of G offline members, and a direct message to an offline recipient who is in
C conversations (lazy fan-out: the same cost as in 1); then the cost of one
sync of that user with nothing new (fan-out on read: paid per sync, never
per message). Also the FCALL's own time (commandstats usec of fcall), to
tell the function from everything around it, and the system share of the
CPU (the AOF: the harness runs appendfsync always, as deployments do).
PERF_OUT=file records `perf` samples of Redis during the offline direct run. Run with /usr/bin/python3 and
MQCHAT_PLUGIN / MQCHAT_CLI pointing at a build (any version: compare two
builds in the same run). Talks to 127.0.0.1 only; bounded by N."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402

N = int(os.environ.get("N", "2000"))
G = int(os.environ.get("G", "100"))
C = int(os.environ.get("C", "500"))
OPTS = {"rate_msgs": "0", "rate_bytes": "0", "rate_reqs": "0", "max_group_members": "1000",
        "presence_grace_ms": "0"}


def info(redis):
    """(CPU seconds, calls, fcall usec, system CPU seconds) so far."""
    cpu, calls, fcall_us, sys_cpu = 0.0, 0, 0, 0.0
    for line in redis.call("INFO", "cpu").decode().splitlines():
        if line.startswith(("used_cpu_sys:", "used_cpu_user:")):
            cpu += float(line.split(":")[1])
        if line.startswith("used_cpu_sys:"):
            sys_cpu += float(line.split(":")[1])
    for line in redis.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_"):
            calls += int(line.split("calls=")[1].split(",")[0])
        if line.startswith("cmdstat_fcall:"):
            fcall_us += int(line.split("usec=")[1].split(",")[0])
    return cpu, calls, fcall_us, sys_cpu


def measure(stack, n, act, done, perf=None):
    """Per act: Redis CPU us, calls, FCALL us (commandstats: wall time in
    the function), system CPU us (mostly the AOF's write and fsync). With
    perf (a file name), `perf record` samples Redis meanwhile."""
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-F", "4000", "-g", "-o", perf, "-p",
                                str(stack.redis.proc.pid)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    c0, k0, f0, s0 = info(stack.redis)
    for i in range(n):
        act(i)
    done()
    c1, k1, f1, s1 = info(stack.redis)
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    # The two INFO calls themselves are in the delta: 2 calls, a few us.
    return (c1 - c0) * 1e6 / n, (k1 - k0 - 2) / n, (f1 - f0) / n, (s1 - s0) * 1e6 / n


def report(what, r):
    us, calls, fus, sus = r
    print(f"{what}: {us:.1f} us Redis CPU/msg ({sus:.1f} system), {calls:.2f} Redis calls/msg, "
          f"FCALL {fus:.1f} us/msg", flush=True)


def req(client, user, rid, **body):
    client.publish(f"chat/u/{user}/req", json.dumps(dict(body, req=rid)))
    res = client.expect(lambda m: f'"req":"{rid}"'.encode() in m.payload, timeout=60,
                        what="reply to " + rid)
    return json.loads(res.payload)


def offline(stack, user):
    harness.wait_for(lambda: stack.redis.call("HGET", f"mqchat:{{u:{user}}}:presence",
                                              "devices") in (None, b"0"),
                     what=user + " offline")


def main():
    with harness.Stack(OPTS) as s:
        for u in ("alice", "bob", "carol"):
            s.add_user(u, "pw-" + u)
        for i in range(G):
            s.add_user(f"m{i}", "pw")
        a = s.client("alice", "pw-alice")
        a.subscribe("chat/u/alice/inbox")
        b = s.client("bob", "pw-bob")
        b.subscribe("chat/u/bob/inbox")
        conv = req(a, "alice", "r1", op="create", kind="direct", **{"with": "bob"})["conv"]

        def send(to, tag):
            return lambda i: a.publish(f"chat/c/{to}/send",
                                       json.dumps({"id": f"{tag}{i}", "body": "hello"}),
                                       wait=False)

        def own_copy(to, last):
            key = f'"id":"{last}"'.encode()
            return lambda: a.expect(lambda m: key in m.payload and to.encode() in m.payload,
                                    timeout=120, what="own copy of " + last)

        def at_bob(last):
            key = f'"id":"{last}"'.encode()
            return lambda: b.expect(lambda m: key in m.payload, timeout=120, what=last)

        report("direct, recipient online", measure(s, N, send(conv, "d"), at_bob(f"d{N - 1}")))
        b.close()
        offline(s, "bob")
        report("direct, recipient offline",
               measure(s, N, send(conv, "o"), own_copy(conv, f"o{N - 1}"),
                       perf=os.environ.get("PERF_OUT")))

        members = [f"m{i}" for i in range(G)]
        gconv = req(a, "alice", "r2", op="create", kind="group", title="g", members=members)["conv"]
        n = max(1, N // 4)
        report(f"group of {G} offline + sender",
               measure(s, n, send(gconv, "g"), own_copy(gconv, f"g{n - 1}")))

        # carol: offline, in 1 conversation, then in C.
        cc = s.client("carol", "pw-carol")
        cc.subscribe("chat/u/carol/inbox")
        cconv = req(a, "alice", "r3", op="create", kind="direct", **{"with": "carol"})["conv"]
        cc.close()
        offline(s, "carol")
        nc = max(1, N // 10)
        report("direct, recipient offline in 1 conversation",
               measure(s, nc, send(cconv, "c"), own_copy(cconv, f"c{nc - 1}")))
        cc = s.client("carol", "pw-carol")
        cc.subscribe("chat/u/carol/inbox")
        for i in range(C - 1):
            cc.publish("chat/u/carol/req", json.dumps({"op": "create", "req": f"k{i}",
                                                       "kind": "group", "title": f"solo{i}",
                                                       "members": []}), wait=False)
        req(cc, "carol", "kz", op="convs")
        tok = req(cc, "carol", "ks", op="sync")["next"]
        cc.close()
        offline(s, "carol")
        nc = max(1, N // 10)  # v1 scans every conversation of the recipient per message
        report(f"direct, recipient offline in {C} conversations",
               measure(s, nc, send(cconv, "e"), own_copy(cconv, f"e{nc - 1}")))
        cc = s.client("carol", "pw-carol")
        cc.subscribe("chat/u/carol/inbox")
        first = req(cc, "carol", "kf", op="sync", since=tok)  # the N messages: one pass
        tok = first["next"]
        while first["more"]:
            first = req(cc, "carol", "kf%s" % tok[-6:], op="sync", since=tok, limit=1000)
            tok = first["next"]
        k = 20

        def sync(i):
            req(cc, "carol", f"sy{i}", op="sync", since=tok)
        us, calls, fus, _ = measure(s, k, sync, lambda: None)
        print(f"sync with nothing new, user in {C} conversations: {us:.0f} us Redis CPU/sync, "
              f"{calls:.1f} Redis calls/sync", flush=True)


if __name__ == "__main__":
    main()
