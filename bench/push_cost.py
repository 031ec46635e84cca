#!/usr/bin/env python3
"""Redis cost of lazy fan-out's deferred work, per member: N group messages
to G offline members (each with an APNs device), expanded by mqchat-push
from the per-slot job streams and sent to the fake APNs of the tests; Redis
CPU microseconds (INFO cpu) and Redis calls (INFO commandstats, which also
counts the commands run inside each FCALL) from the moment the jobs are
written until every push was answered, minus the bridge's idle cost over the
same time and minus the writing of the jobs themselves (the message path's
share). Run with /usr/bin/python3 and MQCHAT_PUSH pointing at a build; no
broker is needed (the slot jobs and hints are written as the broker writes
them). PACE=1: one message at a time (each job written once the previous
one is expanded, over one connection), so that nothing can be coalesced;
by default the N jobs are written at once (a burst: mqchat-push reads up to
64 per batch and expands a run of one conversation's messages once). Talks
to 127.0.0.1 only; bounded by N and G."""
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402
from fakepush import FakePushServer, make_apns_key  # noqa: E402
from fanout import conv_jobs_key, conv_slot  # noqa: E402
from test_push_bridge import Bridge  # noqa: E402

N = int(os.environ.get("N", "50"))
G = int(os.environ.get("G", "100"))
DEVICES = os.environ.get("DEVICES", "1") == "1"  # 0: nobody has a device, no push is sent
# 1: the devices are FCM ones and FCM is not configured: the sender reads,
# looks up and acknowledges every push job without an HTTP request (its Redis
# work without the time the fake APNs takes)
NO_HTTP = os.environ.get("NO_HTTP", "0") == "1"
PACE = os.environ.get("PACE", "0") == "1"
FSYNC = os.environ.get("FSYNC", "always")  # the tests' Redis: AOF, appendfsync always
IDLE_S = 3.0
P = "mqchat:"


def info(redis):
    """(cpu seconds, calls, {command: (calls, usec)})."""
    cpu, calls, per = 0.0, 0, {}
    main_thread = 0.0
    for line in redis.call("INFO", "cpu").decode().splitlines():
        if line.startswith(("used_cpu_sys:", "used_cpu_user:")):
            cpu += float(line.split(":")[1])
        elif line.startswith(("used_cpu_sys_main_thread:", "used_cpu_user_main_thread:")):
            main_thread += float(line.split(":")[1])
    per["main_thread_cpu_us"] = (int(main_thread * 1e6), 0)
    for line in redis.call("INFO", "stats").decode().splitlines():
        if line.startswith(("total_reads_processed:", "total_connections_received:")):
            name, v = line.split(":")
            per[name] = (int(v), 0)
    for line in redis.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[8:].split(":", 1)
            f = dict(kv.split("=") for kv in rest.split(","))
            per[name] = (int(f["calls"]), int(f["usec"]))
            calls += int(f["calls"])
    return cpu, calls, per


def delta(a, b):
    per = {}
    for k, (c, u) in b[2].items():
        c0, u0 = a[2].get(k, (0, 0))
        if c - c0:
            per[k] = (c - c0, u - u0)
    return b[0] - a[0], b[1] - a[1], per


def pipeline(redis, cmds):
    """Send every command over one connection, then read every reply."""
    enc = bytearray()
    for args in cmds:
        enc += b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            enc += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", redis.port), timeout=60) as s:
        s.sendall(enc)
        f = s.makefile("rb")
        for _ in cmds:
            harness._resp_read(f)


def job_cmds(conv, first, n, key, chan):
    out = []
    for s in range(first, first + n):
        out.append(["XADD", key, "*", "c", conv, "s", s, "m", s, "k", "msg", "f", "alice",
                    "ts", int(time.time() * 1000), "p", "hello"])
        out.append(["PUBLISH", chan, str(conv_slot(conv))])
    return out


class Conn:
    """One persistent connection for the bench's polling (a fresh connection
    per poll would cost Redis more than what is measured)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        self.polls = 0

    def call(self, *args):
        enc = bytearray(b"*%d\r\n" % len(args))
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            enc += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(enc)
        self.polls += 1
        return harness._resp_read(self.f)


def drained(redis, conv):
    if redis.call("XLEN", conv_jobs_key(conv)):
        return False
    for g in redis.call("XINFO", "GROUPS", P + "{push}"):
        d = {g[i].decode(): g[i + 1] for i in range(0, len(g), 2)}
        if d["pending"] or d["lag"]:
            return False
    return True


def main():
    d = tempfile.mkdtemp(prefix="mqchat-pushcost-")
    srv = FakePushServer(workdir=d)
    redis = harness.Redis(d)
    bridge = None
    try:
        p8, _ = make_apns_key(d, key_id="ABCDE12345")
        redis.start()
        redis.call("CONFIG", "SET", "appendfsync", FSYNC)
        conv = "bench"
        members = ["m%03d" % i for i in range(G)]
        setup = [["HSET", P + "{c:%s}:members" % conv, "alice", "admin"]]
        for i, u in enumerate(members):
            setup.append(["HSET", P + "{c:%s}:members" % conv, u, "member"])
            if DEVICES:
                setup.append(["HSET", P + "{u:%s}:devices" % u, "%064x" % (i + 1),
                              "%s\ncom.example.chat\n0" % ("fcm" if NO_HTTP else "apns")])
        pipeline(redis, setup)
        bridge = Bridge(d, {"redis_url": redis.url(), "apns_base_url": srv.url,
                            "apns_sandbox_base_url": srv.url, "apns_key_file": p8,
                            "apns_key_id": "ABCDE12345", "apns_team_id": "TEAM123456",
                            "ca_file": srv.ca_file, "stats_interval_seconds": 0,
                            "jobs_sweep_seconds": 3600, "consumer": "bench",
                            "expand_by_slot": os.environ.get("BY_SLOT", "false")})
        bridge.start()
        key = conv_jobs_key(conv)
        # warm up: the start-up sweep, the connections, one message
        pipeline(redis, job_cmds(conv, 1, 1, key, P + "jobs"))
        want = G if DEVICES and not NO_HTTP else 0
        harness.wait_for(lambda: len(srv.requests(kind="apns")) >= want and
                         redis.call("XLEN", key) == 0, timeout=60, what="warm-up pushes")
        harness.wait_for(lambda: drained(redis, conv), timeout=60, what="warm-up drained")
        conn = Conn(redis.port)
        # the bridge's idle cost per second
        a = info(conn)
        t0 = time.monotonic()
        time.sleep(IDLE_S)
        b = info(conn)
        idle = delta(a, b)
        idle_t = time.monotonic() - t0
        # the cost of writing N jobs and hints (the message path's share)
        a = info(conn)
        if PACE:
            for c in job_cmds(conv, 0, N, "bench:dummy", "bench:nobody"):
                conn.call(*c)
        else:
            pipeline(redis, job_cmds(conv, 0, N, "bench:dummy", "bench:nobody"))
        write = delta(a, info(conn))
        redis.call("DEL", "bench:dummy")
        # the deferred work (polled every 50 ms over one connection; the
        # polls' own commands, 1 to 3 each, are left in: a few per second)
        before = len(srv.requests(kind="apns"))
        a = info(conn)
        t0 = time.monotonic()
        poll = (0.0, 0.0)
        if PACE:
            # the cost of one poll (XLEN of an empty key, same pace), with
            # the idle bridge's share taken out: subtracted per poll below
            k, a, t1 = 500, info(conn), time.monotonic()
            for _ in range(k):
                conn.call("XLEN", "bench:dummy")
                time.sleep(0.002)
            b = info(conn)
            pt = time.monotonic() - t1
            poll = ((b[0] - a[0] - idle[0] * pt / idle_t) / k,
                    (b[1] - a[1] - idle[1] * pt / idle_t) / k)
        polls0 = conn.polls
        a = info(conn)
        t0 = time.monotonic()
        if PACE:
            for i in range(N):
                for c in job_cmds(conv, 2 + i, 1, key, P + "jobs"):
                    conn.call(*c)
                while conn.call("XLEN", key):
                    time.sleep(0.002)
        else:
            pipeline(redis, job_cmds(conv, 2, N, key, P + "jobs"))
        harness.wait_for(lambda: conn.call("XLEN", key) == 0, timeout=600,
                         what="slot jobs expanded", interval=0.005)
        mid = info(conn)
        t_mid = time.monotonic()
        harness.wait_for(lambda: len(srv.requests(kind="apns")) >=
                         before + N * G * (DEVICES and not NO_HTTP) and
                         drained(conn, conv), timeout=600, what="all pushes sent",
                         interval=0.05)
        b = info(conn)
        took = time.monotonic() - t0
        run = delta(a, b)
        scale = took / idle_t
        members_n = N * G
        npolls = conn.polls - polls0 - (2 * N if PACE else 0)  # the writes are not polls
        cpu = run[0] - write[0] - idle[0] * scale - poll[0] * npolls * PACE
        calls = run[1] - write[1] - idle[1] * scale - poll[1] * npolls * PACE
        print(f"appendfsync {FSYNC}, {'one message at a time' if PACE else 'a burst'}: "
              f"{N} messages x {G} offline members "
              f"{'without devices (no push)' if not DEVICES else 'with a device' + (' of a platform not configured (no HTTP)' if NO_HTTP else ' (fake APNs)')}, "
              f"{took:.2f} s, {npolls} polls "
              f"{'(%.1f us, %.2f calls each, subtracted) ' % (poll[0] * 1e6, poll[1]) if PACE else ''}"
              f"({members_n / took:.0f} pushes/s)")
        print(f"deferred: {cpu * 1e6 / members_n:.2f} us Redis CPU/member, "
              f"{calls / members_n:.2f} Redis calls/member "
              f"(idle bridge: {idle[0] * 1e6 / idle_t:.0f} us/s, {idle[1] / idle_t:.1f} calls/s "
              f"subtracted; job writes: {write[0] * 1e6 / N:.1f} us/msg)")
        exp = delta(a, mid)
        snd = delta(mid, b)
        t_exp, t_snd = t_mid - t0, took - (t_mid - t0)
        print(f"  phases, idle subtracted: expansion (slot jobs -> counters, decisions, push "
              f"jobs) {t_exp:.2f} s, "
              f"{(exp[0] - write[0] - idle[0] * t_exp / idle_t) * 1e6 / members_n:.2f} "
              f"us/member, {(exp[1] - write[1] - idle[1] * t_exp / idle_t) / members_n:.2f} "
              f"calls/member; sending {t_snd:.2f} s, "
              f"{(snd[0] - idle[0] * t_snd / idle_t) * 1e6 / members_n:.2f} us/member, "
              f"{(snd[1] - idle[1] * t_snd / idle_t) / members_n:.2f} calls/member")
        mt = (run[2]["main_thread_cpu_us"][0] - write[2]["main_thread_cpu_us"][0] -
              idle[2]["main_thread_cpu_us"][0] * scale)
        print(f"  of which Redis' main thread: {mt / members_n:.2f} us/member (the rest: "
              f"background threads, e.g. the AOF fsync)")
        print("by command (calls/member, us/member; commands inside FCALL are counted both "
              "in FCALL and by name):")
        for name, (c, u) in sorted(run[2].items(), key=lambda kv: -kv[1][1]):
            c -= write[2].get(name, (0, 0))[0] + idle[2].get(name, (0, 0))[0] * scale
            u -= write[2].get(name, (0, 0))[1] + idle[2].get(name, (0, 0))[1] * scale
            if name == "main_thread_cpu_us":
                continue
            if c > 0.5 and name.startswith("total_"):
                print(f"  {name:14} {c / members_n:6.3f} per member")
            elif c > 0.5:
                print(f"  {name:14} {c / members_n:6.3f} {u / members_n:7.3f}")
    finally:
        if bridge:
            bridge.stop()
        srv.stop()
        redis.stop()
        if not os.environ.get("MQCHAT_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
