#!/usr/bin/env python3
"""Redis cost of the `convs` request for a user in C conversations (issue
#16): before, one multi-slot call (mqc1_convs reads every conversation by a
key name built in Lua); after, the single-slot steps store/convs.c sends
(SMEMBERS of the user's index, then one mqc2_conv_info per conversation,
pipelined). The functions alone, no broker: a fresh redis-server on
127.0.0.1 with C groups of 3 members and 20 messages each (read cursors
in the middle), the old library (store/mqchat.lua at git revision BASE,
default e17bdb9, or the file OLD_LUA) then the new one (this tree's), N
requests each, in ROUNDS alternating rounds. Prints Redis calls per
request, Redis CPU us per request (INFO cpu delta: parsing, networking
and the functions) and us inside the commands (INFO commandstats).
Run with /usr/bin/python3."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402

C = int(os.environ.get("C", "200"))
N = int(os.environ.get("N", "200"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BASE = os.environ.get("BASE", "e17bdb9")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
P = "mqchat:"


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def pipeline(self, cmds):
        self.s.sendall(b"".join(enc(*c) for c in cmds))
        return [harness._resp_read(self.f) for _ in cmds]

    def call(self, *args):
        return self.pipeline([args])[0]


def stats(c, outer_smembers):
    """Redis CPU seconds so far, and us inside the request's commands (FCALL
    counts the commands its function runs; SMEMBERS is counted when the
    client sends it, not when a function does)."""
    cpu = 0.0
    for line in c.call("INFO", "cpu").decode().splitlines():
        if line.startswith(("used_cpu_sys:", "used_cpu_user:")):
            cpu += float(line.split(":")[1])
    usec = 0
    names = ("cmdstat_fcall:", "cmdstat_smembers:") if outer_smembers else ("cmdstat_fcall:",)
    for line in c.call("INFO", "commandstats").decode().splitlines():
        if line.startswith(names):
            usec += int(line.split("usec=")[1].split(",")[0])
    return cpu, usec


def populate(c):
    cmds = []
    for i in range(C):
        conv = "g%04d" % i
        base = P + "{c:%s}:" % conv
        members = ["alice", "bob%d" % (i % 10), "carol%d" % (i % 7)]
        cmds.append(("XADD", base + "log", "1-0", "e", json.dumps({"t": "member"}), "t", 1000,
                     "m", 0))
        for s in range(2, 22):
            cmds.append(("XADD", base + "log", "%d-0" % s, "e",
                         json.dumps({"t": "msg", "seq": s, "body": "x" * 40}), "t", 1000 + s,
                         "m", s - 1))
        cmds.append(("HSET", base + "meta", "kind", "group", "title", conv, "seq", 21, "mver", 1,
                     "mc", 20, "lt", 1021))
        for m in members:
            cmds.append(("HSET", base + "members", m, "member"))
        cmds.append(("HSET", base + "rcpt", "r:alice", 2 + i % 19))
        cmds.append(("SADD", P + "{u:alice}:convs", conv))
    c.pipeline(cmds)


def old_request(c):
    c.call("FCALL", "mqc1_convs", 1, P + "{u:alice}:convs", "alice", P)
    return 1


def new_request(c):
    ids = sorted(c.call("SMEMBERS", P + "{u:alice}:convs"))
    c.pipeline([("FCALL", "mqc2_conv_info", 5) +
                tuple(P + "{c:%s}:%s" % (i.decode(), p)
                      for p in ("meta", "members", "rcpt", "log", "tomb")) + ("alice",)
                for i in ids])
    return 1 + len(ids)


def main():
    old = os.environ.get("OLD_LUA")
    old_src = open(old).read() if old else subprocess.run(
        ["git", "-C", ROOT, "show", BASE + ":store/mqchat.lua"], capture_output=True, text=True,
        check=True).stdout
    new_src = open(os.path.join(ROOT, "store", "mqchat.lua")).read()
    d = tempfile.mkdtemp(prefix="mqchat-convs-cost-")
    r = harness.Redis(d)
    try:
        r.start()
        c = Conn(r.port)
        populate(c)
        res = {"before": [0.0, 0, 0], "after": [0.0, 0, 0]}
        for _ in range(ROUNDS):
            for name, src, fn in (("before", old_src, old_request), ("after", new_src, new_request)):
                c.call("FUNCTION", "LOAD", "REPLACE", src)
                fn(c)  # warm
                c.call("CONFIG", "RESETSTAT")
                c0, u0 = stats(c, name == "after")
                calls = sum(fn(c) for _ in range(N))
                c1, u1 = stats(c, name == "after")
                res[name][0] += (c1 - c0) * 1e6
                res[name][1] += u1 - u0
                res[name][2] += calls
        for name in ("before", "after"):
            cpu, usec, calls = res[name]
            n = N * ROUNDS
            print("%-6s C=%d: %.0f Redis calls/request, Redis CPU %.0f us/request, "
                  "inside the commands %.0f us/request" % (name, C, calls / n, cpu / n, usec / n))
    finally:
        r.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
