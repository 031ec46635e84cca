"""Lazy fan-out, the deferred half: mqchat-push reads the per-slot job
streams (one job per stored message / member event, written by the broker;
written here by hand with the broker's fields, and the users' keys set up as
the broker keeps them), expands each job to its recipients, keeps the
per-user unread counters (max-based, idempotent), decides who gets a push
(offline or away, not muted, not the sender, with a device, not already
read) and queues per-user push jobs that the sender delivers to the fake
APNs. Also: a lost hint (the sweep finds the job), a bridge killed with -9
in the middle of a batch (every push job produced at least once, counters
exact), unreadable jobs, and one expand call per user slot."""
import os
import random
import signal
import socket
import tempfile
import time
import unittest

from fakepush import FakePushServer, make_apns_key
from fanout import conv_jobs_key, write_job
from harness import Redis, free_port, main, wait_for
from test_push_bridge import Bridge, remove_dir
from test_push_metrics import scrape

TEAM, KID = "TEAM123456", "ABCDE12345"
P = "mqchat:"


def tok(user):
    return (user.encode().hex() * 64)[:64]


class FanoutTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqchat-fanout-")
        self.addCleanup(remove_dir, self.dir)
        self.srv = FakePushServer(workdir=self.dir)
        self.addCleanup(self.srv.stop)
        self.p8, _ = make_apns_key(self.dir, key_id=KID)
        self.redis = Redis(self.dir)
        self.redis.start()
        self.addCleanup(self.redis.stop)
        self.bridge = None

    def start_bridge(self, **extra):
        opts = {"redis_url": self.redis.url(), "apns_base_url": self.srv.url,
                "apns_sandbox_base_url": self.srv.url, "apns_key_file": self.p8,
                "apns_key_id": KID, "apns_team_id": TEAM, "ca_file": self.srv.ca_file,
                "request_timeout_ms": 3000, "stats_interval_seconds": 0,
                "consumer": "push1"}
        opts.update({k: str(v) for k, v in extra.items()})
        self.bridge = Bridge(self.dir, opts)
        self.addCleanup(self.bridge.stop)
        self.bridge.start()
        return self.bridge

    # -- the broker's keys, by hand
    def r(self, *args):
        return self.redis.call(*args)

    def member(self, conv, user, joined=None):
        self.r("HSET", P + "{c:%s}:members" % conv, user, "member")
        self.r("SADD", P + "{u:%s}:convs" % user, conv)
        if joined is not None:
            self.r("HSET", P + "{c:%s}:rcpt" % conv, "j:" + user, joined)

    def device(self, user, platform="apns", token=None):
        self.r("HSET", P + "{u:%s}:devices" % user, token or tok(user),
               "%s\ncom.example.chat\n0" % platform)

    def presence(self, user, state, devices):
        self.r("HSET", P + "{u:%s}:presence" % user, "state", state, "devices", devices)

    def mute(self, user, conv, until_ms):
        self.r("HSET", P + "{u:%s}:mute" % user, conv, until_ms)

    def unread(self, user):
        """The user's unread hash (an absent r:<conv> reads 0: nothing read)."""
        fv = self.r("HGETALL", P + "{u:%s}:unread" % user) or []
        d = {fv[i].decode(): int(fv[i + 1]) for i in range(0, len(fv), 2)}
        for k in [k for k in d if k.startswith("c:")]:
            d.setdefault("r:" + k[2:], 0)
        return d

    def push_jobs(self):
        out = []
        for _id, fv in self.r("XRANGE", P + "{push}", "-", "+"):
            out.append({fv[i].decode(): fv[i + 1].decode() for i in range(0, len(fv), 2)})
        return out

    def pushed(self, conv=None, seq=None):
        """{user: badge} of the push jobs queued for (conv, seq)."""
        return {j["user"]: int(j["badge"]) for j in self.push_jobs()
                if (conv is None or j["conv"] == conv) and (seq is None or int(j["seq"]) == seq)}

    def jobs_left(self, *convs):
        return sum(self.r("XLEN", conv_jobs_key(c)) for c in convs)

    def drained(self, *convs):
        """Every slot job of convs expanded and deleted, every push job read
        and acknowledged by the sender."""
        if self.jobs_left(*convs):
            return False
        if not self.r("EXISTS", P + "{push}"):
            return True
        for g in self.r("XINFO", "GROUPS", P + "{push}"):
            d = {g[i].decode(): g[i + 1] for i in range(0, len(g), 2)}
            if d["pending"] != 0 or d["lag"] != 0:
                return False
        return True

    def wait_drained(self, *convs, timeout=20):
        wait_for(lambda: self.drained(*convs), timeout=timeout, what="jobs expanded and sent")

    # -- tests
    def test_push_decisions_badges_and_reads_elsewhere(self):
        g, d = "g1", "d1"
        for u in ("alice", "bob", "carol", "dave", "erin", "frank", "gina"):
            self.member(g, u)
        for u in ("alice", "bob", "carol", "dave", "erin", "gina"):
            self.device(u)
        self.presence("carol", "away", 1)     # away: pushed
        self.presence("dave", "online", 2)    # in the foreground: not pushed
        self.presence("bob", "offline", 0)
        now = int(time.time() * 1000)
        self.mute("erin", g, now + 3600000)   # muted: not pushed
        self.mute("gina", g, now - 1000)      # mute over: pushed
        self.start_bridge()
        write_job(self.redis, g, 1, 1, frm="alice", preview="hi all")
        self.wait_drained(g)
        # frank has no device; alice sent it
        self.assertEqual(self.pushed(g, 1), {"bob": 1, "carol": 1, "gina": 1})
        reqs = self.srv.wait_requests(3, timeout=15, kind="apns")
        self.assertEqual(sorted(r.token for r in reqs), sorted(tok(u) for u in ("bob", "carol",
                                                                               "gina")))
        body = reqs[0].json()
        self.assertEqual(body["aps"]["alert"], {"title": "alice", "body": "hi all"})
        self.assertEqual(body["aps"]["badge"], 1)
        self.assertEqual((body["conv"], body["seq"]), (g, 1))
        # everyone counted (the online and muted too), the sender has read it
        self.assertEqual(self.unread("alice"), {"c:g1": 1, "r:g1": 1, "total": 0})
        for u in ("bob", "carol", "dave", "erin", "frank", "gina"):
            self.assertEqual(self.unread(u), {"c:g1": 1, "r:g1": 0, "total": 1}, u)
        job = self.push_jobs()[0]
        self.assertEqual({k: job[k] for k in ("conv", "seq", "kind", "from", "preview")},
                         {"conv": g, "seq": "1", "kind": "msg", "from": "alice",
                          "preview": "hi all"})

        # a second conversation: the badge counts both
        self.member(d, "alice")
        self.member(d, "bob")
        write_job(self.redis, d, 1, 1, frm="alice", preview="direct")
        self.wait_drained(d)
        self.assertEqual(self.pushed(d, 1), {"bob": 2})
        # bob reads g1 on another device (the broker calls mqc2_unread after the
        # receipt): the next push's badge says so
        self.assertEqual(self.r("FCALL", "mqc2_unread", 1, P + "{u:bob}:unread", g, "", 1),
                         [b"ok", 1])
        write_job(self.redis, g, 2, 2, frm="alice")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 2)["bob"], 2)  # g1 seq 2 + d1 seq 1
        self.assertNotIn("preview", [j for j in self.push_jobs() if j["seq"] == "2"][0])
        # read before the bridge got to it: counted, no push
        self.r("FCALL", "mqc2_unread", 1, P + "{u:bob}:unread", d, "", 2)
        write_job(self.redis, d, 2, 2, frm="alice", preview="already read")
        self.wait_drained(d)
        self.assertEqual(self.pushed(d, 2), {})
        self.assertEqual(self.unread("bob"),
                         {"c:g1": 2, "r:g1": 1, "c:d1": 2, "r:d1": 2, "total": 1})
        # a read receipt older than what is counted changes nothing
        self.assertEqual(self.r("FCALL", "mqc2_unread", 1, P + "{u:bob}:unread", g, "", 0),
                         [b"ok", 1])
        self.assertEqual(self.bridge.stats().get("pending"), "0")

    def test_member_events_joined_left_and_later_members(self):
        g = "g2"
        for u in ("alice", "bob", "carol", "hank"):
            self.member(g, u)
        self.member(g, "ivan", joined=9)   # joined after seq 3: not a recipient
        self.r("HSET", P + "{c:%s}:rcpt" % g, "j:hank", 3)   # joined with seq 3
        for u in ("alice", "bob", "carol", "hank", "ivan"):
            self.device(u)
        self.start_bridge()
        write_job(self.redis, g, 1, 1, frm="alice")
        write_job(self.redis, g, 2, 2, frm="alice")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 2), {"bob": 2, "carol": 2})  # hank joins at 3
        # seq 3: alice adds hank and removes carol (no longer a member: the job's u)
        self.r("HDEL", P + "{c:%s}:members" % g, "carol")
        write_job(self.redis, g, 3, 2, kind="member", frm="alice", gone=["carol"])
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 3), {"bob": 2, "hank": 0, "carol": 0})
        self.assertEqual(self.unread("hank")["total"], 0)    # joined: nothing unread
        self.assertEqual(self.unread("carol")["total"], 0)   # left: nothing unread
        self.assertEqual(self.unread("bob")["total"], 2)     # member events count nothing
        self.assertEqual(self.unread("ivan"), {})            # not a recipient yet
        self.assertEqual(self.unread("alice")["total"], 0)
        write_job(self.redis, g, 4, 3, frm="bob")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 4), {"alice": 1, "hank": 1})
        self.assertEqual(self.unread("bob")["total"], 0)     # the sender has read all

    def test_same_job_twice_changes_no_counter(self):
        g = "g3"
        for u in ("alice", "bob", "carol"):
            self.member(g, u)
            self.device(u)
        self.start_bridge()
        write_job(self.redis, g, 1, 1, frm="alice")
        write_job(self.redis, g, 2, 2, frm="bob")
        self.wait_drained(g)
        before = {u: self.unread(u) for u in ("alice", "bob", "carol")}
        self.assertEqual(before["carol"]["total"], 2)
        write_job(self.redis, g, 1, 1, frm="alice")  # a re-expansion, as after a crash
        write_job(self.redis, g, 2, 2, frm="bob")
        self.wait_drained(g)
        self.assertEqual({u: self.unread(u) for u in ("alice", "bob", "carol")}, before)
        self.assertEqual(self.pushed(g, 2), {"alice": 1, "carol": 2})  # the same again

    def test_lost_hint_found_by_sweep(self):
        g, h = "g4", "g5"
        for c in (g, h):
            self.member(c, "alice")
            self.member(c, "bob")
        self.device("bob")
        write_job(self.redis, g, 1, 1, frm="alice", hint=False)   # before the bridge ran
        self.start_bridge(jobs_sweep_seconds=1)
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 1), {"bob": 1})
        write_job(self.redis, h, 1, 1, frm="alice", hint=False)   # while it runs
        self.wait_drained(h, timeout=15)
        self.assertEqual(self.pushed(h, 1), {"bob": 2})

    def test_jobs_of_a_dead_bridge_taken_over(self):
        """Entries another consumer read and never acknowledged (it died)
        are claimed once idle for jobs_reclaim_seconds, and expanded."""
        g = "g8"
        self.member(g, "alice")
        self.member(g, "bob")
        self.device("bob")
        key = conv_jobs_key(g)
        write_job(self.redis, g, 1, 1, frm="alice", hint=False)
        self.r("XGROUP", "CREATE", key, "mqchat-push", "0")
        got = self.r("XREADGROUP", "GROUP", "mqchat-push", "dead-bridge", "COUNT", 10,
                     "STREAMS", key, ">")
        self.assertEqual(len(got[0][1]), 1)
        self.start_bridge(jobs_sweep_seconds=1, jobs_reclaim_seconds=1)
        self.wait_drained(g, timeout=15)
        self.assertEqual(self.pushed(g, 1), {"bob": 1})
        self.assertEqual(self.r("XPENDING", key, "mqchat-push")[0], 0)

    def test_unread_counters_idempotent_and_order_independent(self):
        """mqc2_unread over random counted / read updates of several
        conversations, applied in random orders and twice: the same hash
        every time, total = the sum of (c - r)."""
        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "store",
                           "mqchat.lua")
        with open(lib) as f:
            self.r("FUNCTION", "LOAD", "REPLACE", f.read())
        rnd = random.Random(15)
        ops = []
        for _ in range(60):
            conv = rnd.choice(["a", "b", "c"])
            counted = rnd.randint(1, 30) if rnd.random() < 0.7 else ""
            read = rnd.randint(1, 30) if rnd.random() < 0.4 else ""
            ops.append((conv, counted, read))
        want_c, want_r = {}, {}
        for conv, counted, read in ops:
            want_r[conv] = max(want_r.get(conv, 0), read or 0)
            want_c[conv] = max(want_c.get(conv, 0), counted or 0, want_r[conv])
        want = {"total": sum(want_c[c] - want_r[c] for c in want_c)}
        for c in want_c:
            want["c:" + c], want["r:" + c] = want_c[c], want_r[c]
        for trial in range(4):
            user = "order%d" % trial
            seq = ops[:] + ops[:rnd.randint(0, len(ops))]   # some twice
            rnd.shuffle(seq)
            for conv, counted, read in seq:
                self.r("FCALL", "mqc2_unread", 1, P + "{u:%s}:unread" % user, conv, counted,
                       read)
            self.assertEqual(self.unread(user), want)

    def test_redis_restart_under_the_bridge(self):
        """Redis killed and restarted (AOF): the bridge reconnects, reloads
        nothing it needs by hand, sweeps, and expands what came meanwhile."""
        g = "g9"
        self.member(g, "alice")
        self.member(g, "bob")
        self.device("bob")
        self.start_bridge()
        write_job(self.redis, g, 1, 1, frm="alice")
        self.wait_drained(g)
        self.redis.kill()
        self.redis.start()
        write_job(self.redis, g, 2, 2, frm="alice")  # its hint may go nowhere
        self.wait_drained(g, timeout=30)
        self.assertEqual(self.pushed(g, 2), {"bob": 2})
        self.assertIsNone(self.bridge.proc.poll())
        self.assertIn("jobs: redis connection lost", self.bridge.log())

    def test_unreadable_jobs_dropped(self):
        g = "g6"
        self.member(g, "alice")
        self.member(g, "bob")
        self.device("bob")
        self.start_bridge()
        key = conv_jobs_key(g)
        self.r("XADD", key, "*", "c", "bad conv!", "s", "1", "k", "msg")
        self.r("XADD", key, "*", "c", g, "s", "x", "k", "msg")
        self.r("XADD", key, "*", "c", g, "s", "1", "k", "telegram")
        write_job(self.redis, g, 1, 1, frm="alice")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 1), {"bob": 1})
        self.assertEqual(len(self.push_jobs()), 1)
        self.assertIsNone(self.bridge.proc.poll())

    def test_expand_by_slot_same_result(self):
        g = "g7"
        users = ["u%02d" % i for i in range(40)]
        for u in users:
            self.member(g, u)
            self.device(u)
        port = free_port()
        self.start_bridge(expand_by_slot="true", metrics_listen="127.0.0.1:%d" % port)
        write_job(self.redis, g, 1, 1, frm="u00")
        write_job(self.redis, g, 2, 2, frm="u01")
        self.wait_drained(g)
        wait_for(lambda: scrape(port)[0].get("mqchat_push_expanded_total") == 2,
                 what="the expanded counter")
        self.assertEqual(self.pushed(g, 2), {u: 2 for u in users if u != "u01"} | {"u00": 1})
        self.assertEqual(self.unread("u01"), {"c:g7": 2, "r:g7": 2, "total": 0})

    def test_kill9_mid_batch_then_restart(self):
        """Many jobs over many slots, the bridge killed with -9 while it is
        expanding, restarted under the same consumer name: every (user,
        conv, seq) gets a push job at least once and every counter is
        exact. Devices are FCM ones and FCM is not configured: the sender
        acknowledges their push jobs without a request (platform_disabled),
        so this measures the expansion, not the fake server."""
        convs = ["k%02d" % i for i in range(12)]
        users = ["m%02d" % i for i in range(25)]
        nmsg = 40
        for c in convs:
            for u in users:
                self.member(c, u)
        for u in users:
            self.device(u, platform="fcm")
        for s in range(1, nmsg + 1):
            for c in convs:
                write_job(self.redis, c, s, s, frm="sender", hint=False)
        total = len(convs) * nmsg * len(users)
        self.start_bridge()
        sock = socket.create_connection(("127.0.0.1", self.redis.port))
        self.addCleanup(sock.close)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # poll fast over one connection
            sock.sendall(b"XLEN mqchat:{push}\r\n")
            n = int(sock.recv(64).strip()[1:])
            if n > 0:
                break
        self.bridge.proc.send_signal(signal.SIGKILL)
        self.bridge.proc.wait()
        done_at_kill = len(self.push_jobs())
        left_at_kill = self.jobs_left(*convs)
        self.assertGreater(done_at_kill, 0)
        self.assertGreater(left_at_kill, 0, "the bridge finished before the kill")
        self.start_bridge()
        wait_for(lambda: self.jobs_left(*convs) == 0, timeout=60, what="all slot jobs expanded")
        got = {(j["user"], j["conv"], int(j["seq"])) for j in self.push_jobs()}
        want = {(u, c, s) for u in users for c in convs for s in range(1, nmsg + 1)}
        self.assertEqual(want - got, set())
        self.assertGreaterEqual(len(self.push_jobs()), total)
        for u in users:
            self.assertEqual(self.unread(u)["total"], len(convs) * nmsg, u)
        pend = self.r("XPENDING", conv_jobs_key(convs[0]), "mqchat-push")
        self.assertEqual(pend[0], 0)
        print("kill -9 after %d of %d push jobs, %d slot jobs left; %d push jobs in all"
              % (done_at_kill, total, left_at_kill, len(self.push_jobs())))

    def load_lib(self):
        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "store",
                           "mqchat.lua")
        with open(lib) as f:
            self.r("FUNCTION", "LOAD", "REPLACE", f.read())

    def conv_keys(self, conv):
        return [P + "{c:%s}:%s" % (conv, p) for p in ("meta", "members", "log", "rcpt")] + \
            [conv_jobs_key(conv)]

    def test_late_joiner_mark(self):
        """A group made by mqc3_create_group has no late joiner (rcpt jm =
        0): mqc2_recipients skips the j: reads. An add marks its seq (jm):
        a job of before the add, expanded after it, still leaves the new
        member out; the jobs after it count the new member."""
        g = "gj"
        self.load_lib()
        now = int(time.time() * 1000)
        rk = P + "{c:%s}:rcpt" % g
        self.assertEqual(self.r("FCALL", "mqc3_create_group", 5, *self.conv_keys(g), "alice", g,
                                "t", now, 100, "alice", "", "bob", "")[0], b"ok")
        self.assertEqual(self.r("HGET", rk, "jm"), b"0")
        for u in ("alice", "bob", "zoe"):
            self.device(u)
        self.assertEqual(self.r("FCALL", "mqc2_recipients", 2, P + "{c:%s}:members" % g, rk, 2),
                         [b"ok", 0, b"alice", b"bob"] if self.r("HKEYS", P + "{c:%s}:members" % g)
                         [0] == b"alice" else [b"ok", 0, b"bob", b"alice"])
        self.assertEqual(self.r("FCALL", "mqc3_change", 5, *self.conv_keys(g), "alice", "add", g,
                                now, 100, "zoe", "")[:2], [b"ok", 2])
        self.assertEqual(self.r("HGET", rk, "jm"), b"2")
        self.start_bridge(jobs_sweep_seconds=1)
        self.wait_drained(g)   # the create and add jobs
        self.assertEqual(self.unread("zoe"), {})   # joined with m = 0: nothing to count
        # seq 1's job again, late (as after a crash): zoe joined at 2, not a recipient
        write_job(self.redis, g, 1, 0, kind="member", frm="alice")
        write_job(self.redis, g, 3, 1, frm="alice", preview="after zoe")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 1), {"bob": 0})
        self.assertEqual(self.pushed(g, 3), {"bob": 1, "zoe": 1})
        # a msg job of before the add, expanded after it (jm = 2 >= 1: the j: reads)
        self.r("HSET", P + "{c:%s}:meta" % g, "seq", 3)
        write_job(self.redis, g, 1, 1, frm="bob", preview="before zoe")
        self.wait_drained(g)
        ones = [j for j in self.push_jobs() if j["seq"] == "1"]
        self.assertEqual(len(ones), 2)   # bob's for the member job twice; none to zoe
        self.assertEqual({j["user"] for j in ones}, {"bob"})
        self.assertEqual(self.unread("zoe")["total"], 1)

    def hsets(self):
        """HSET calls since the last CONFIG RESETSTAT (those inside FCALLs too)."""
        for line in self.r("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_hset:"):
                return int(line.split("calls=")[1].split(",")[0])
        return 0

    def test_coalesced_run_of_one_conversation(self):
        """Msg jobs of one conversation read in one batch are expanded once
        (the counters with the newest m; each sender read up to their own
        last message), the pushes decided per job: the same pushes and
        counters as one job at a time; the badges are the final totals."""
        g, h = "gc", "hc"
        for u in ("alice", "bob", "carol", "dave"):
            self.member(g, u)
            self.device(u)
        self.member(h, "alice")
        self.member(h, "dave")
        self.r("HSET", P + "{u:dave}:unread", "c:gc", 0, "r:gc", 0, "total", 0)
        senders = {1: "alice", 2: "bob", 3: "alice", 4: "carol"}
        for s, frm in senders.items():       # before the bridge: one batch
            write_job(self.redis, g, s, s, frm=frm, hint=False)
            write_job(self.redis, h, s, s, frm="alice", hint=False)  # another run beside
        self.r("CONFIG", "RESETSTAT")
        self.start_bridge()
        self.wait_drained(g, h)
        got = {(j["user"], int(j["seq"])): int(j["badge"]) for j in self.push_jobs()
               if j["conv"] == g}
        want_users = {1: {"bob", "carol", "dave"}, 2: {"alice", "carol", "dave"},
                      3: {"bob", "carol", "dave"}, 4: {"alice", "bob", "dave"}}
        self.assertEqual(set(got), {(u, s) for s, us in want_users.items() for u in us})
        self.assertEqual(self.unread("alice"), {"c:gc": 4, "r:gc": 3, "c:hc": 4, "r:hc": 4,
                                                "total": 1})
        self.assertEqual(self.unread("bob"), {"c:gc": 4, "r:gc": 2, "total": 2})
        self.assertEqual(self.unread("carol"), {"c:gc": 4, "r:gc": 4, "total": 0})
        self.assertEqual(self.unread("dave"), {"c:gc": 4, "r:gc": 0, "c:hc": 4, "r:hc": 0,
                                               "total": 8})
        # the badges one job at a time gives: the total after each job
        self.assertEqual(got, {("bob", 1): 1, ("carol", 1): 1, ("dave", 1): 1,
                               ("alice", 2): 1, ("carol", 2): 2, ("dave", 2): 2,
                               ("bob", 3): 1, ("carol", 3): 3, ("dave", 3): 3,
                               ("alice", 4): 1, ("bob", 4): 2, ("dave", 4): 4})
        # and they were coalesced: each member's counters written once per
        # conversation (6), not once per job (24)
        self.assertLessEqual(self.hsets(), 12)
        # a member event between msg jobs ends a run: its seq's members count
        self.r("HSET", P + "{c:%s}:rcpt" % g, "j:erin", 6)
        self.member(g, "erin")
        self.device("erin")
        write_job(self.redis, g, 5, 5, frm="bob", hint=False)
        write_job(self.redis, g, 6, 5, kind="member", frm="alice", hint=False)
        write_job(self.redis, g, 7, 6, frm="bob")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 5), {"alice": 2, "carol": 1, "dave": 9})
        self.assertNotIn("erin", self.pushed(g, 5))
        self.assertEqual(self.pushed(g, 7)["erin"], 1)
        self.assertEqual(self.unread("erin"), {"c:gc": 6, "r:gc": 5, "total": 1})

    def test_wait_replicas_on_one_redis(self):
        """redis_wait_replicas 1: one WAIT after each batch of push jobs.
        Without a replica it is not confirmed (said) and the pushes go all
        the same; with one attached, confirmed."""
        g = "gw"
        for u in ("alice", "bob", "carol"):
            self.member(g, u)
            self.device(u)
        self.start_bridge(redis_wait_replicas=1)
        write_job(self.redis, g, 1, 1, frm="alice")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 1), {"bob": 1, "carol": 1})
        warn = "not confirmed by 1 replicas"
        wait_for(lambda: warn in self.bridge.log(), what="the unconfirmed pushes reported")
        rdir = os.path.join(self.dir, "replica")
        os.mkdir(rdir)
        replica = Redis(rdir)
        replica.start()
        self.addCleanup(replica.stop)
        replica.call("REPLICAOF", "127.0.0.1", self.redis.port)
        wait_for(lambda: b"state=online" in self.r("INFO", "replication"),
                 what="the replica attached")
        before = self.bridge.log().count(warn)
        write_job(self.redis, g, 2, 2, frm="alice")
        self.wait_drained(g)
        self.assertEqual(self.pushed(g, 2), {"bob": 2, "carol": 2})
        self.assertEqual(self.bridge.log().count(warn), before)


if __name__ == "__main__":
    main()
