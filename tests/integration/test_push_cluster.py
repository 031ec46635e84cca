"""mqchat-push on a Redis Cluster (issue #16): 3 primaries + 3 replicas
(cluster_harness.py), the bridge started with redis_cluster_nodes. The
broker's side is driven directly: messages are stored with the store's own
function (FCALL mqc2_send on the primary of the conversation's slot, which
writes the message and its slot job), membership and devices set by hand as
the broker keeps them. Shown: the bridge loads the function library on every
primary by itself, expands jobs of slot streams on every shard (one
mqc3_expand per user slot), sends one push per (user, message) to the fake
APNs with the right badges; kill -9 of a primary (the one holding the push
queue) while messages keep coming, with redis_wait_replicas 1: a replica
takes over, the bridge finds it and every push arrives exactly once; push
jobs fewer replicas confirmed in time are reported and sent once; a dead
token is dropped from the user's devices and its index (two slots); push queue keys of the old names
(<p>push, <p>push:delay: other slots) are renamed at start and their pushes
sent. ctest label `cluster`."""

import os
import tempfile
import threading
import time
import unittest

from cluster_harness import RedisCluster
from fakepush import FakePushServer, make_apns_key
from fanout import slot_of, slot_tag
from harness import DEFAULT_TIMEOUT, main, wait_for
from test_push_bridge import Bridge, remove_dir

TEAM, KID = "TEAM123456", "ABCDE12345"
P = "mqchat:"
HERE = os.path.dirname(os.path.abspath(__file__))


def tok(user):
    return (user.encode().hex() * 64)[:64]


class Cluster:
    """Commands on the primary of their first key's slot, following MOVED
    and riding out a failover (connection errors, CLUSTERDOWN) until the
    deadline."""

    def __init__(self, rc):
        self.rc = rc
        self.owners = {}

    def call(self, key, *args, timeout=30):
        slot = slot_of(key)
        deadline = time.monotonic() + timeout
        while True:
            port = self.owners.get(slot)
            try:
                if port is None:
                    port = self.owners[slot] = self.rc.owner(slot)
                return self.rc.node(port).call(*args)
            except (OSError, AssertionError, StopIteration) as e:
                self.owners.pop(slot, None)
                msg = str(e)
                if "MOVED" in msg:
                    self.owners[slot] = int(msg.split()[-1].rsplit(":", 1)[1])
                elif "redis error" in msg and not any(
                        w in msg for w in ("CLUSTERDOWN", "TRYAGAIN", "LOADING")):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def each_primary(self, *args):
        return {p: self.rc.node(p).call(*args) for p in self.rc.primary_ports()}


class PushClusterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqchat-pushcl-")
        self.addCleanup(remove_dir, self.dir)
        self.rc = RedisCluster(workdir=os.path.join(self.dir, "cluster"))
        self.rc.__enter__()
        self.addCleanup(self.rc.stop)
        self.cl = Cluster(self.rc)
        self.srv = FakePushServer(workdir=self.dir)
        self.addCleanup(self.srv.stop)
        self.p8, _ = make_apns_key(self.dir, key_id=KID)
        self.bridge = None

    def start_bridge(self, **extra):
        opts = {"redis_cluster_nodes": self.rc.seeds(","),
                "apns_base_url": self.srv.url, "apns_sandbox_base_url": self.srv.url,
                "apns_key_file": self.p8, "apns_key_id": KID, "apns_team_id": TEAM,
                "ca_file": self.srv.ca_file, "request_timeout_ms": 3000,
                "stats_interval_seconds": 0, "consumer": "push1", "jobs_sweep_seconds": 1}
        opts.update({k: str(v) for k, v in extra.items()})
        self.bridge = Bridge(self.dir, opts)
        self.addCleanup(self.bridge.stop)
        self.bridge.start()
        # The router's hook loads the library on every primary it uses (the
        # first sweep touches every slot, so every primary).
        wait_for(self.library_everywhere, timeout=DEFAULT_TIMEOUT * 2,
                 what="the function library on every primary")

    def library_everywhere(self):
        if self.bridge.proc.poll() is not None:
            raise AssertionError("mqchat-push exited:\n" + self.bridge.log())
        libs = self.cl.each_primary("FUNCTION", "LIST", "LIBRARYNAME", "mqchat_v2")
        return all(v for v in libs.values())

    # -- the broker's keys and calls, on the right primary
    def convs_on_every_shard(self, n_per_shard=1):
        """Conversation ids whose slots are on different primaries."""
        want = {p: [] for p in self.rc.primary_ports()}
        i = 0
        while any(len(v) < n_per_shard for v in want.values()):
            c = "g%d" % i
            i += 1
            port = self.rc.owner(slot_of("{c:%s}" % c))
            if len(want[port]) < n_per_shard:
                want[port].append(c)
        return [c for v in want.values() for c in v]

    def member(self, conv, user):
        self.cl.call(P + "{c:%s}:members" % conv, "HSET", P + "{c:%s}:members" % conv, user,
                     "member")

    def device(self, user):
        k = P + "{u:%s}:devices" % user
        self.cl.call(k, "HSET", k, tok(user), "apns\ncom.example.chat\n0")

    def send(self, conv, sender, cid, text):
        """mqc2_send as the broker calls it (the job in the conversation's
        slot stream); a retry of the same cid is answered dup."""
        ks = [P + "{c:%s}:%s" % (conv, p) for p in ("meta", "members", "log", "ids", "rcpt")]
        ks += [P + "{%s}:jobs" % slot_tag(slot_of("{c:%s}" % conv)), P + "{c:%s}:tomb" % conv]
        r = self.cl.call(ks[0], "FCALL", "mqc2_send", len(ks), *ks, sender, cid,
                         '{"t":"msg","conv":"%s","from":"%s","seq":' % (conv, sender),
                         ',"body":%s}' % ('"' + text + '"'), "", 86400000, conv, text)
        assert r[0] in (b"ok", b"dup"), r
        return int(r[1])

    def hint(self, conv):
        self.rc.live()[0].call("PUBLISH", P + "jobs", slot_of("{c:%s}" % conv))

    def unread_total(self, user):
        k = P + "{u:%s}:unread" % user
        return int(self.cl.call(k, "HGET", k, "total") or 0)

    def pushes(self):
        """[(user token, conv, seq, badge)] of the APNs requests answered."""
        out = []
        for r in self.srv.requests(kind="apns"):
            if r.status is None or r.completed is None:
                continue
            b = r.json()
            out.append((r.token, b["conv"], int(b["seq"]), b["aps"].get("badge")))
        return out

    def setup_convs(self, convs, users):
        for c in convs:
            self.member(c, "alice")
            for u in users:
                self.member(c, u)
        for u in users:
            self.device(u)

    def check_exactly_once(self, convs, users, nmsg):
        want = {(tok(u), c, s) for u in users for c in convs for s in range(1, nmsg + 1)}
        wait_for(lambda: want <= {p[:3] for p in self.pushes()}, timeout=60,
                 what="every push at the fake APNs")
        # nothing more comes: the slot streams and the push queue are drained
        wait_for(lambda: self.drained(convs), timeout=30, what="the queues drained")
        got = [p[:3] for p in self.pushes()]
        doubled = sorted({p for p in got if got.count(p) > 1})
        self.assertEqual(doubled, [], "pushes sent twice")
        self.assertEqual(sorted(got), sorted(want))
        return want

    def drained(self, convs):
        for c in convs:
            k = P + "{%s}:jobs" % slot_tag(slot_of("{c:%s}" % c))
            if self.cl.call(k, "XLEN", k):
                return False
        k = P + "{push}"
        for g in self.cl.call(k, "XINFO", "GROUPS", k):
            d = {g[i].decode(): g[i + 1] for i in range(0, len(g), 2)}
            if d["pending"] != 0 or d["lag"] != 0:
                return False
        return True

    # -- tests
    def test_expands_on_every_shard_with_badges(self):
        convs = self.convs_on_every_shard()
        users = ["u%d" % i for i in range(8)]
        self.setup_convs(convs, users)
        self.start_bridge()
        nmsg = 3
        for s in range(1, nmsg + 1):
            for c in convs:
                self.assertEqual(self.send(c, "alice", "c%d" % s, "hi %d" % s), s)
                self.hint(c)
        self.check_exactly_once(convs, users, nmsg)
        # each user's badges: the unread total after each of its messages,
        # whatever order the shards were expanded in: 1..all, each once
        total = len(convs) * nmsg
        for u in users:
            badges = sorted(p[3] for p in self.pushes() if p[0] == tok(u))
            self.assertEqual(badges, list(range(1, total + 1)), u)
            self.assertEqual(self.unread_total(u), total, u)
        log = self.bridge.log()
        self.assertIn("redis=cluster", log)
        self.assertNotIn("CROSSSLOT", log)

    def test_primary_killed_mid_traffic(self):
        convs = self.convs_on_every_shard()
        users = ["u%d" % i for i in range(6)]
        self.setup_convs(convs, users)
        # push jobs, retries and dead letters on the replica before the slot
        # job is acknowledged: the failover loses none
        self.start_bridge(redis_wait_replicas=1)
        nmsg = 40
        sent = {c: 0 for c in convs}
        errors = []

        def writer(conv):
            try:
                for s in range(1, nmsg + 1):
                    self.assertEqual(self.send(conv, "alice", "c%d" % s, "m%d" % s), s)
                    sent[conv] = s
                    time.sleep(0.02)  # a steady trickle across the kill
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(c,)) for c in convs]
        for t in threads:
            t.start()
        wait_for(lambda: len(self.pushes()) >= 20, timeout=30, what="the first pushes")
        # the primary holding the push queue (and one conversation's slot)
        victim = self.rc.owner(slot_of(P + "{push}"))
        self.rc.kill9_primary(victim)
        self.rc.wait_failover(victim, slot_of(P + "{push}"))
        self.cl.owners.clear()
        self.rc.restart(victim)  # back as the new primary's replica, as an operator would
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertEqual(sent, {c: nmsg for c in convs})
        self.check_exactly_once(convs, users, nmsg)
        for u in users:
            self.assertEqual(self.unread_total(u), len(convs) * nmsg, u)
        # the promoted replica got the library from the bridge's router
        self.assertTrue(self.library_everywhere())
        # the bridge did see the primary die (and came back by itself)
        self.assertRegex(self.bridge.log(), "redis connection lost|cannot use redis")
        self.assertEqual(self.bridge.proc.poll(), None)

    def test_push_jobs_short_of_replicas_still_go(self):
        """redis_wait_replicas 2 with one replica per primary: no push job
        is confirmed in time; that is said and counted, and the pushes go
        out all the same, once (expanding again would repeat them)."""
        conv = self.convs_on_every_shard()[0]
        self.setup_convs([conv], ["u1"])
        self.start_bridge(redis_wait_replicas=2)
        self.send(conv, "alice", "c1", "hi")
        self.hint(conv)
        wait_for(lambda: "not confirmed by 2 replicas" in self.bridge.log(), timeout=30,
                 what="the unconfirmed push jobs reported")
        self.check_exactly_once([conv], ["u1"], 1)

    def test_hints_plain_and_sharded(self):
        """No sweep after the first: jobs are found through the hints only,
        published plainly on any node (PUBLISH reaches every node) or
        sharded on the primary serving the channel's slot (SPUBLISH)."""
        convs = self.convs_on_every_shard()
        self.setup_convs(convs, ["u1"])
        self.start_bridge(jobs_sweep_seconds=3600)
        wait_for(lambda: "first sweep" in self.bridge.log(), what="the first sweep done")
        chan = P + "jobs"
        owner = self.rc.node(self.rc.owner(slot_of(chan)))
        other = next(self.rc.node(p) for p in self.rc.primary_ports() if p != owner.port)
        for i, c in enumerate(convs):
            self.send(c, "alice", "c1", "hi")
            via, cmd = [(other, "PUBLISH"), (owner, "SPUBLISH")][i % 2]
            via.call(cmd, chan, slot_of("{c:%s}" % c))
        self.check_exactly_once(convs, ["u1"], 1)
        self.assertNotIn("SSUBSCRIBE", self.bridge.log())  # not refused

    def test_dead_token_dropped_in_two_steps(self):
        """APNs says a token is dead: it leaves the user's devices (user
        slot) and its owner index <p>devtoken:<token> (another slot, here on
        another primary when the hash allows), each a single-slot call."""
        conv = self.convs_on_every_shard()[0]
        self.setup_convs([conv], ["u1", "u2"])
        idx = {u: P + "devtoken:" + tok(u) for u in ("u1", "u2")}
        for u, k in idx.items():
            self.cl.call(k, "SET", k, u)
        self.srv.behave(tok("u1"), [("status", 410, {"reason": "Unregistered"})])
        self.start_bridge()
        self.send(conv, "alice", "c1", "hi")
        self.hint(conv)
        dk = P + "{u:u1}:devices"
        wait_for(lambda: self.cl.call(dk, "HLEN", dk) == 0 and
                 not self.cl.call(idx["u1"], "EXISTS", idx["u1"]), timeout=30,
                 what="the dead token and its index removed")
        wait_for(lambda: (tok("u2"), conv, 1) in {p[:3] for p in self.pushes()}, timeout=30,
                 what="u2's push")
        self.assertEqual(self.cl.call(idx["u2"], "GET", idx["u2"]), b"u2")
        k = P + "{u:u2}:devices"
        self.assertEqual(self.cl.call(k, "HLEN", k), 1)
        self.assertIn("removing dead token", self.bridge.log())
        self.assertNotIn("CROSSSLOT", self.bridge.log())

    def test_old_queue_keys_renamed_at_start(self):
        """Pushes left in <p>push (read, never acknowledged: pending) and in
        <p>push:delay (a retry) by a bridge of before the hash tag: slots
        other than <p>{push}'s, possibly other nodes."""
        old, old_d = P + "push", P + "push:delay"
        self.cl.call(old, "XGROUP", "CREATE", old, "mqchat-push", "0", "MKSTREAM")
        for i, u in enumerate(("u1", "u2", "u3")):
            self.device(u)
            self.cl.call(old, "XADD", old, "*", "user", u, "conv", "g", "seq", i + 1,
                         "kind", "msg", "from", "alice", "badge", 1, "ts",
                         int(time.time() * 1000))
        # u1's job read by the old bridge (pending), u2 and u3 never read
        self.cl.call(old, "XREADGROUP", "GROUP", "mqchat-push", "push1", "COUNT", 1,
                     "STREAMS", old, ">")
        retry = '["user","u4","conv","g","seq","9","kind","msg","from","alice","badge","2",' \
                '"ts","%d","only_token","%s","attempt","2","first_ts","%d","nonce","ab"]' % (
                    int(time.time() * 1000), tok("u4"), int(time.time() * 1000))
        self.device("u4")
        self.cl.call(old_d, "ZADD", old_d, 1, retry)
        self.start_bridge()
        want = {(tok("u1"), "g", 1), (tok("u2"), "g", 2), (tok("u3"), "g", 3),
                (tok("u4"), "g", 9)}
        wait_for(lambda: want <= {p[:3] for p in self.pushes()}, timeout=90,
                 what="the old queue's pushes sent")
        self.assertEqual(self.cl.call(old, "EXISTS", old), 0)
        self.assertEqual(self.cl.call(old_d, "EXISTS", old_d), 0)
        got = [p[:3] for p in self.pushes()]
        self.assertEqual(sorted(got), sorted(want))
        self.assertIn("moved", self.bridge.log())


if __name__ == "__main__":
    main()
