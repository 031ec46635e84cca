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
MQCHAT_PLUGIN / MQCHAT_CLI pointing at a build; BEFORE_PLUGIN / BEFORE_CLI
(another build, e.g. of the previous commit) make the same run measure that
build first, then this one, in the same conditions.

The functions alone (FN=1, or ONLY=functions for just this part): the store
library of the tree (store/mqchat.lua) and the one of LUA_BEFORE (a git
revision, default HEAD, or a file), each in its own fresh redis-server with
the AOF as in production (appendfsync always), the same calls pipelined
straight into them with no broker, alternating between the two in FN_ROUNDS
rounds (medians): mqc2_send of a direct message, sequentially (one call per
round trip: every call pays a whole AOF write + fsync) and pipelined in
batches of 10 and 100 (as the broker pipelines the sends of one loop pass:
the calls of one batch share one fsync); mqc2_relate (an edit) pipelined;
and the deferred work of a group message to G members nobody of whom has a
device, as mqchat-push does it (mqc2_recipients, then mqc2_expand with the
4 keys per member store/jobs_expand.c passes), per member. CALLGRIND=1
counts the instructions instead (redis-server under valgrind's callgrind:
deterministic, whatever else loads the machine; user space only). Talks to
127.0.0.1 only; bounded by N and FN_N."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

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


class Fsyncs:
    """Counts the AOF's fdatasync calls of process pid (the kernel's syscall
    tracepoint through `perf stat`; 0 where perf cannot). With appendfsync
    always Redis writes and fsyncs the AOF once per event-loop pass that
    wrote anything, so messages per fsync is how many sends shared a pass."""

    def __init__(self, pid):
        self.proc = None
        try:
            self.proc = subprocess.Popen(["perf", "stat", "-x,", "-e",
                                          "syscalls:sys_enter_fdatasync", "-p", str(pid)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
        except OSError:
            return
        # perf gives no sign once it is attached; a bench (not a test) can
        # afford the pause, and a late attach only undercounts
        time.sleep(0.3)

    def stop(self):
        if not self.proc:
            return 0
        self.proc.send_signal(signal.SIGINT)
        err = self.proc.communicate(timeout=60)[1]
        for line in err.splitlines():
            f = line.split(",")
            if len(f) > 2 and f[2] == "syscalls:sys_enter_fdatasync" and f[0].isdigit():
                return int(f[0])
        return 0


def measure(stack, n, act, done, perf=None):
    """Per act: Redis CPU us, calls, FCALL us (commandstats: wall time in
    the function), system CPU us (mostly the AOF's write and fsync), AOF
    fsyncs. With perf (a file name), `perf record` samples Redis meanwhile."""
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-F", "4000", "-g", "-o", perf, "-p",
                                str(stack.redis.proc.pid)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    fs = Fsyncs(stack.redis.proc.pid)
    c0, k0, f0, s0 = info(stack.redis)
    for i in range(n):
        act(i)
    done()
    c1, k1, f1, s1 = info(stack.redis)
    nfs = fs.stop()
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    # The two INFO calls themselves are in the delta: 2 calls, a few us.
    return ((c1 - c0) * 1e6 / n, (k1 - k0 - 2) / n, (f1 - f0) / n, (s1 - s0) * 1e6 / n,
            nfs / n)


def report(what, r):
    us, calls, fus, sus, fsyncs = r
    print(f"{what}: {us:.1f} us Redis CPU/msg ({sus:.1f} system), {calls:.2f} Redis calls/msg, "
          f"FCALL {fus:.1f} us/msg, {fsyncs:.3f} AOF fsyncs/msg", flush=True)


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
    if os.environ.get("BEFORE_PLUGIN"):
        plugin, cli = harness.PLUGIN, harness.CLI
        print(f"== before: {os.environ['BEFORE_PLUGIN']}", flush=True)
        harness.PLUGIN = os.environ["BEFORE_PLUGIN"]
        harness.CLI = os.environ.get("BEFORE_CLI", cli)
        one_build()
        harness.PLUGIN, harness.CLI = plugin, cli
        print(f"== after: {plugin}", flush=True)
    one_build()


def one_build():
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
        us, calls, fus, _, _ = measure(s, k, sync, lambda: None)
        print(f"sync with nothing new, user in {C} conversations: {us:.0f} us Redis CPU/sync, "
              f"{calls:.1f} Redis calls/sync", flush=True)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class FnRedis:
    """A fresh redis-server (the harness's: AOF on, appendfsync always) with
    one store library loaded and one connection to pipeline calls. With
    callgrind, redis-server runs under valgrind's callgrind (appendfsync no:
    the instruction counts of user space are what is measured, see ir())."""

    def __init__(self, name, lua, callgrind=False):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="mqchat-fncost-")
        self.redis = harness.Redis(self.dir)
        if callgrind:
            self.redis.proc = subprocess.Popen(
                ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + self.dir + "/cg.%p",
                 "redis-server", "--port", str(self.redis.port), "--bind", "127.0.0.1", "--dir",
                 self.dir, "--appendonly", "yes", "--appendfsync", "no", "--save", ""],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            harness.wait_for(self.redis.ping, timeout=120, what="redis-server under callgrind")
        else:
            self.redis.start()
        self.redis.call("FUNCTION", "LOAD", "REPLACE", lua)
        self.v3 = "'mqc3_expand'" in lua
        self.sock = socket.create_connection(("127.0.0.1", self.redis.port), timeout=120)
        self.f = self.sock.makefile("rb")

    def run(self, cmds, batch):
        """Send cmds batch by batch (each batch written at once, then its
        replies read). Returns (CPU us, system CPU us, calls, FCALL usec,
        AOF fsyncs) in total, from INFO deltas (and perf, for fsyncs)."""
        fs = Fsyncs(self.redis.proc.pid)
        a = info(self.redis)
        self.run_only(cmds, batch)
        b = info(self.redis)
        # the two INFO calls of info() are in the delta
        return ((b[0] - a[0]) * 1e6, (b[3] - a[3]) * 1e6, b[1] - a[1] - 2, b[2] - a[2],
                fs.stop())

    def ir(self, cmds, batch):
        """Instructions redis-server executed for cmds (callgrind only): the
        counters zeroed, cmds run, the counters dumped and read."""
        pid = str(self.redis.proc.pid)
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        self.run_only(cmds, batch)
        old = set(os.listdir(self.dir))
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        harness.wait_for(lambda: any(f.startswith("cg.") for f in set(os.listdir(self.dir)) - old),
                         what="callgrind dump")
        new = [f for f in set(os.listdir(self.dir)) - old if f.startswith("cg.")][0]

        def total():
            for line in open(os.path.join(self.dir, new)):
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
            return None
        harness.wait_for(lambda: total() is not None, what="callgrind dump written")
        return total()

    def run_only(self, cmds, batch):
        for i in range(0, len(cmds), batch):
            part = cmds[i:i + batch]
            self.sock.sendall(b"".join(resp(*c) for c in part))
            for _ in part:
                reply = harness._resp_read(self.f)
                assert isinstance(reply, list) and reply[0] == b"ok", reply

    def close(self):
        self.sock.close()
        self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def lua_source(spec):
    """The library text of spec: a file, or a git revision of this tree."""
    if os.path.exists(spec):
        return open(spec).read()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    return subprocess.run(["git", "-C", root, "show", spec + ":store/mqchat.lua"], check=True,
                          capture_output=True, text=True).stdout


def functions_alone():
    """Redis CPU and calls per function call for two libraries (see the top)."""
    n = int(os.environ.get("FN_N", "3000"))
    rounds = int(os.environ.get("FN_ROUNDS", "3"))
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "store", "mqchat.lua")
    libs = [("before", lua_source(os.environ.get("LUA_BEFORE", "HEAD"))),
            ("after", lua_source(os.environ.get("LUA_AFTER", here)))]
    p, conv, gconv, day = "mqchat:", "d-bench", "g-bench", 86400000
    members = ["m%03d" % i for i in range(G)]

    def ck(c, part):
        return "%s{c:%s}:%s" % (p, c, part)

    def uk(u, part):
        return "%s{u:%s}:%s" % (p, u, part)

    def send(c, tag):
        def build(i):
            return (["FCALL", "mqc2_send", 7] + [ck(c, x) for x in ("meta", "members", "log",
                                                                        "ids", "rcpt")] +
                    [harness.jobs_key(c), ck(c, "tomb"), "alice", f"{tag}{i}",
                     '{"t":"msg","conv":"%s","seq":' % c,
                     f',"id":"{tag}{i}","from":"alice","ts":1,"body":"hello"}}', 1, day, c,
                     "hello"])
        return build

    def edit(tag, base):
        def build(i):
            return (["FCALL", "mqc2_relate", 6] + [ck(conv, x) for x in ("meta", "members",
                                                                           "log", "ids", "rcpt",
                                                                           "tomb")] +
                    ["alice", f"{tag}{i}", "edit", base + i + 1,
                     '{"t":"edit","conv":"%s","seq":' % conv,
                     f',"id":"{tag}{i}","from":"alice","target":{base + i + 1},'
                     '"body":"hello, edited","ts":1}', 1, day])
        return build

    def burst_cmds(srv, seqs, run):
        """The same messages as mqchat-push expands a burst of them (jobs
        queued, read up to 64 at a time): each run of `run` messages of the
        conversation once, as its newest (mqc3_expand, the sender a reader
        up to it); a library without mqc3_expand: one job at a time."""
        if not srv.v3:
            return expand_cmds(srv, seqs)
        users = ["alice"] + members
        keys = []
        for u in users:
            keys += [uk(u, "unread"), uk(u, "presence"), uk(u, "mute"), uk(u, "devices")]
        seqs, out = list(seqs), []
        for i in range(0, len(seqs), run):
            s = seqs[min(i + run, len(seqs)) - 1]
            out.append(["FCALL", "mqc2_recipients", 2, ck(gconv, "members"), ck(gconv, "rcpt"),
                        s])
            out.append(["FCALL", "mqc3_expand", len(keys)] + keys +
                       [gconv, s, "msg", 1, 0, 1] + users + [s])
        return out

    def expand_cmds(srv, seqs):
        """mqc2_recipients then the expand call of each group message (as
        the bridge's rounds 1 and 2 do, one job at a time: nothing
        coalesced), for seqs: mqc3_expand where srv's library has it (the
        sender first, as a reader), else mqc2_expand."""
        users = ["alice"] + members
        keys = []
        for u in users:
            keys += [uk(u, "unread"), uk(u, "presence"), uk(u, "mute"), uk(u, "devices")]
        out = []
        for s in seqs:
            out.append(["FCALL", "mqc2_recipients", 2, ck(gconv, "members"), ck(gconv, "rcpt"),
                        s])
            if srv.v3:
                out.append(["FCALL", "mqc3_expand", len(keys)] + keys +
                           [gconv, s, "msg", 1, 0, 1] + users + [s])
            else:
                out.append(["FCALL", "mqc2_expand", len(keys)] + keys +
                           [gconv, s, s, "msg", "alice", 1, 0] + users)
        return out

    cg = os.environ.get("CALLGRIND") == "1"
    servers = [FnRedis(name, lua, callgrind=cg) for name, lua in libs]
    rows = {}
    try:
        for r in servers:
            r.redis.call("HSET", ck(conv, "meta"), "kind", "direct", "seq", 0, "mver", 1, "mc", 0)
            r.redis.call("HSET", ck(conv, "members"), "alice", "member", "bob", "member")
            r.redis.call("HSET", ck(gconv, "meta"), "kind", "group", "seq", 0, "mver", 1, "mc", 0)
            r.redis.call("HSET", ck(gconv, "members"), "alice", "admin",
                         *[x for u in members for x in (u, "member")])
            # as mqc3_create_group writes it (no late joiner); a library of
            # before the mark ignores it
            r.redis.call("HSET", ck(gconv, "rcpt"), "r:alice", 1, "d:alice", 1, "jm", 0)
        seq = 0  # the direct conversation's last seq (the same in both)
        gseq = 0
        def run(srv, cmds, batch):
            return [srv.ir(cmds, batch)] if cg else srv.run(cmds, batch)

        if cg:
            rounds = 1
        for rnd in range(rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            kinds = [("direct msg, sequential", n // 3, 1, "s"),
                     ("direct msg, batches of 10", n, 10, "t"),
                     ("direct msg, batches of 100", n, 100, "h")]
            for label, k, batch, tag in kinds[2 if cg else 0:]:
                for srv in order:
                    cmds = [send(conv, f"{tag}{rnd}-")(i) for i in range(k)]
                    rows.setdefault((label, srv.name), []).append(
                        [x / k for x in run(srv, cmds, batch)])
                seq += k
            for srv in order:
                cmds = [edit(f"e{rnd}-", seq - n)(i) for i in range(n)]
                rows.setdefault(("direct edit, batches of 100", srv.name), []).append(
                    [x / n for x in run(srv, cmds, 100)])
            seq += n
            k = max(1, n // 30)
            for srv in order:
                cmds = [send(gconv, f"g{rnd}-")(i) for i in range(k)]
                srv.run_only(cmds, 100)
                cmds = expand_cmds(srv, range(gseq + 1, gseq + k + 1))
                rows.setdefault((f"group of {G}: deferred, per member", srv.name), []).append(
                    [x / (k * (G + 1)) for x in run(srv, cmds, 20)])
            gseq += k
            for srv in order:
                cmds = [send(gconv, f"b{rnd}-")(i) for i in range(k)]
                srv.run_only(cmds, 100)
                cmds = burst_cmds(srv, range(gseq + 1, gseq + k + 1), 10)
                rows.setdefault((f"group of {G}: deferred, burst (runs of 10)", srv.name),
                                []).append([x / (k * (G + 1)) for x in run(srv, cmds, 20)])
            gseq += k
        if cg:
            print("functions alone under callgrind (instructions redis-server executed, "
                  "user space only: no AOF fsync, no kernel):")
        else:
            print(f"functions alone (appendfsync always; medians of {rounds} rounds; "
                  "us of Redis CPU, of it system, Redis calls, us inside FCALL, AOF fsyncs):")
        for (label, name), v in rows.items():
            cols = list(zip(*v))
            med = [sorted(c)[len(c) // 2] for c in cols]
            if cg:
                print(f"  {label:38} {name:6}: {med[0]:9.0f} instructions", flush=True)
                continue
            print(f"  {label:38} {name:6}: {med[0]:7.2f} us CPU ({med[1]:6.2f} system), "
                  f"{med[2]:6.2f} calls, FCALL {med[3]:6.2f} us, {med[4]:.3f} fsyncs",
                  flush=True)
    finally:
        for srv in servers:
            srv.close()


if __name__ == "__main__":
    if os.environ.get("ONLY") != "functions":
        main()
    if os.environ.get("FN") == "1" or os.environ.get("ONLY") == "functions":
        functions_alone()
