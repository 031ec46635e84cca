"""The store's slot router (store/router.c) against a real Redis Cluster of
3 primaries + 3 replicas (cluster_harness.py), driven through
tests/cluster/routerctl: keys land on the primary of their slot, pipelines
spanning nodes are called back in submission order, MOVED after a slot
moved, ASK while a slot's keys are half moved, a reshard during traffic
loses nothing, WAIT 1 is acknowledged by the replica, the function library
is on every primary; kill -9 of a primary: `unavailable` until a replica
takes over, then the router finds it by itself, loads the library there and
commands succeed. ctest label `cluster`."""

import os
import select
import socket
import subprocess
import tempfile
import time
import unittest

from cluster_harness import RedisCluster
from harness import DEFAULT_TIMEOUT, main, wait_for

ROUTERCTL = os.environ.get("MQCHAT_ROUTERCTL", "")
LIBRARY = """#!lua name=mqctest
redis.register_function('mqctest_get', function(keys, args)
  return redis.call('GET', keys[1])
end)
"""


class RouterCtl:
    """A routerctl process: one line in, one line out."""

    def __init__(self, seeds, library_path):
        self.proc = subprocess.Popen(
            [ROUTERCTL, seeds, "--library", library_path, "--timeout", "1000",
             "--retry", "100"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, line, timeout=DEFAULT_TIMEOUT * 3):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("routerctl did not answer %r within %.0fs" % (line, timeout))
        out = self.proc.stdout.readline()
        if not out:
            raise AssertionError("routerctl exited (%s) on %r" % (self.proc.wait(), line))
        return out.rstrip("\n")

    def stats(self):
        words = self("stats").split()[1:]
        return {k: int(v) for k, v in (w.split("=") for w in words)}

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode not in (0, None):
            raise AssertionError("routerctl exited with %s" % self.proc.returncode)


class _ClusterCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ROUTERCTL:
            raise unittest.SkipTest("MQCHAT_ROUTERCTL not set (run through ctest)")
        cls.rc = RedisCluster()
        cls.rc.__enter__()
        fd, cls.library = tempfile.mkstemp(suffix=".lua", dir=cls.rc.dir)
        with os.fdopen(fd, "w") as f:
            f.write(LIBRARY)

    @classmethod
    def tearDownClass(cls):
        cls.rc.__exit__(None, None, None)

    def setUp(self):
        self.r = RouterCtl(self.rc.seeds(), self.library)

    def tearDown(self):
        self.r.close()

    def addr(self, port):
        return "127.0.0.1:%d" % port


class RoutingTest(_ClusterCase):
    def test_keys_land_on_their_slots_primary(self):
        keys = ["k%d" % i for i in range(150)] + ["{u:alice}:presence", "{u:alice}:convs",
                                                   "{c:x1}:log"]
        for k in keys:
            self.assertEqual(self.r("call SET %s v-%s" % (k, k)), "ok +OK")
        for k in keys:
            slot = self.rc.keyslot(k)
            self.assertEqual(self.r("slot GET " + k), "slot %d" % slot)
            owner = self.rc.owner(slot)
            self.assertEqual(self.r("node %d" % slot), "node " + self.addr(owner))
            # Asked directly (no redirects followed), the owner has it.
            self.assertEqual(self.rc.node(owner).call("GET", k), ("v-" + k).encode())
        # Hash tags: one slot for every key of one user.
        self.assertEqual(self.r("slot GET {u:alice}:presence"), self.r("slot GET {u:alice}:x"))
        # FCALL is routed by its first key, keyless commands go anywhere.
        self.assertEqual(self.r("slot FCALL f 1 k7 a"), "slot %d" % self.rc.keyslot("k7"))
        self.assertEqual(self.r("slot FCALL f 0 a"), "slot -1")
        self.assertEqual(self.r("call PING"), "ok +PONG")
        st = self.r.stats()
        self.assertEqual(st["moved"], 0, st)  # the map was right from the start
        self.assertEqual(st["ask"], 0, st)

    def test_pipeline_spanning_nodes_keeps_submission_order(self):
        # Keys on every primary, interleaved; callbacks must come 0, 1, 2...
        keys = ["p%d" % i for i in range(30)]
        self.assertGreaterEqual(len({self.rc.owner(self.rc.keyslot(k)) for k in keys}), 3)
        line = "pipe " + " | ".join("SET %s %d" % (k, i) for i, k in enumerate(keys))
        line += " | " + " | ".join("GET " + k for k in keys)
        out = self.r(line).split()[1:]
        self.assertEqual([int(x.split(":")[0]) for x in out], list(range(60)))
        self.assertEqual([x.split(":", 1)[1] for x in out],
                         ["+OK"] * 30 + [str(i) for i in range(30)])
        # A large burst: 5,000 SETs, then 5,000 GETs, each in one flush.
        self.assertEqual(self.r("burst 5000 big"), "ok 5000")
        # The broker's way: 50 passes, each sent without waiting for the
        # previous ones' replies (send + harvest 0), drained at the end.
        self.assertEqual(self.r("overlap 5000 50 ov"), "ok 5000")

    def test_wait_one_replica(self):
        out = self.r("wait 1 SET waited yes")
        self.assertEqual(out, "ok 1 +OK")
        # One WAIT per node per send answers for all its commands there:
        # 300 sends of one SET, then 300 SETs over every node in one send.
        out = self.r("timed 300 1 tw")
        self.assertTrue(out.startswith("ok "), out)
        print("SET one per send / pipelined, with WAIT 1 (us):", out[3:])
        slot = self.rc.keyslot("waited")
        replica = self.rc.replica_of(self.rc.owner(slot))
        # Acknowledged means the replica has it: ask it (READONLY session).
        with socket.create_connection(("127.0.0.1", replica), timeout=DEFAULT_TIMEOUT) as s:
            s.sendall(b"READONLY\r\nGET waited\r\n")
            f = s.makefile("rb")
            self.assertEqual(f.readline(), b"+OK\r\n")
            self.assertEqual(f.readline(), b"$3\r\n")
            self.assertEqual(f.readline(), b"yes\r\n")

    def test_library_on_every_primary(self):
        out = self.r("each FUNCTION LIST")
        self.assertNotIn("!", out)
        parts = out[len("each "):].split(";")
        self.assertEqual(sorted(p.split("=")[0] for p in parts),
                         sorted(self.addr(p) for p in self.rc.primary_ports()))
        for p in parts:
            self.assertIn("mqctest_get", p)
        for i in range(20):
            self.r("call SET f%d x%d" % (i, i))
            self.assertEqual(self.r("call FCALL mqctest_get 1 f%d" % i), "ok x%d" % i)

    def test_store_library_on_every_primary(self):
        # The store's own hook (store/lib.c) loads store/mqchat.lua.
        r = RouterCtl(self.rc.seeds(), "mqchat")
        try:
            out = r("each FUNCTION LIST")
            self.assertNotIn("!", out)
            self.assertEqual(out.count("library_name,mqchat_v"), len(self.rc.primary_ports()))
            self.assertEqual(r.stats()["hooks"], len(self.rc.primary_ports()))
        finally:
            r.close()


class MigrationTest(_ClusterCase):
    def test_moved_after_a_slot_moved(self):
        key = "moving"
        slot = self.rc.keyslot(key)
        src = self.rc.owner(slot)
        dst = next(p for p in self.rc.primary_ports() if p != src)
        self.assertEqual(self.r("call SET %s before" % key), "ok +OK")
        self.assertEqual(self.r("node %d" % slot), "node " + self.addr(src))
        self.rc.move_slot(slot, dst)
        self.assertEqual(self.r("call GET " + key), "ok before")
        self.assertEqual(self.r("call SET %s after" % key), "ok +OK")
        st = self.r.stats()
        self.assertEqual(st["moved"], 1, st)  # the map entry was fixed at once
        self.assertEqual(self.r("node %d" % slot), "node " + self.addr(dst))
        self.assertEqual(self.rc.node(dst).call("GET", key), b"after")

    def test_one_slots_commands_keep_their_order_across_a_move(self):
        # The router's map is stale after the move: the first pass's INCRs
        # go to the old node and come back MOVED while later passes are
        # being sent; every INCR must still run in submission order.
        slot = self.rc.keyslot("{ordered}")
        self.assertEqual(self.r("call SET {ordered}:x 1"), "ok +OK")
        src = self.rc.owner(slot)
        dst = next(p for p in self.rc.primary_ports() if p != src)
        self.rc.move_slot(slot, dst)
        self.assertEqual(self.r("incr 3000 60 {ordered}:n"), "ok 3000")
        self.assertGreater(self.r.stats()["moved"], 0)
        self.assertEqual(self.rc.node(dst).call("GET", "{ordered}:n"), b"3000")

    def test_ask_while_keys_are_half_moved(self):
        keys = ["{half}:%d" % i for i in range(6)]
        slot = self.rc.keyslot(keys[0])
        src = self.rc.owner(slot)
        dst = next(p for p in self.rc.primary_ports() if p != src)
        for k in keys:
            self.assertEqual(self.r("call SET %s %s" % (k, k)), "ok +OK")
        self.rc.migrate_begin(slot, src, dst)
        try:
            self.rc.migrate_keys(slot, src, dst, keys[:3])  # half of them moved
            for k in keys:  # moved ones through ASK, the others on src
                self.assertEqual(self.r("call GET " + k), "ok " + k)
            st = self.r.stats()
            self.assertEqual(st["ask"], 3, st)
            self.assertEqual(st["moved"], 0, st)
            # A new key of the slot is created on the importing node.
            self.assertEqual(self.r("call SET {half}:new n"), "ok +OK")
            # In a pipeline too, in order.
            out = self.r("pipe GET {half}:0 | GET {half}:5 | GET {half}:new").split()[1:]
            self.assertEqual(out, ["0:{half}:0", "1:{half}:5", "2:n"])
            # A multi-key command over moved and unmoved keys: TRYAGAIN,
            # retried with a backoff, given up after max_tries (bounded).
            t0 = time.monotonic()
            out = self.r("call MGET {half}:0 {half}:5")
            self.assertTrue(out.startswith("unavail gave up after 5 tries: TRYAGAIN"), out)
            self.assertLess(time.monotonic() - t0, 3)
            self.assertEqual(self.r.stats()["tryagain"], 5)
            # The slot still belongs to src: the map is unchanged.
            self.assertEqual(self.r("node %d" % slot), "node " + self.addr(src))
        finally:
            self.rc.migrate_keys(slot, src, dst)
            self.rc.migrate_end(slot, dst)
        wait_for(lambda: all(self.rc.owner(slot, via=n) == dst for n in self.rc.live()))
        for k in keys + ["{half}:new"]:
            self.assertEqual(self.r("call EXISTS " + k), "ok :1")
        # Fixed by the first MOVED, or by a reload (TRYAGAIN above marked
        # the map stale) before any: never more than one.
        self.assertLessEqual(self.r.stats()["moved"], 1)

    def test_reshard_during_traffic_loses_nothing(self):
        ports = self.rc.primary_ports()
        src, dst = ports[0], ports[1]
        proc = self.rc.reshard(src, dst, 300)
        rounds = 0
        try:
            while proc.poll() is None or rounds < 3:
                self.assertEqual(self.r("burst 400 rs%d" % rounds), "ok 400")
                self.assertEqual(self.r("overlap 400 8 ro%d" % rounds), "ok 400")
                rounds += 1
                self.assertLess(rounds, 2000, "reshard did not finish")
        finally:
            out = proc.communicate(timeout=120)[0]
        self.assertEqual(proc.returncode, 0, out)
        self.rc.wait_ok()
        # Every key written during the reshard is still there (read through
        # the router's map as it was before the reshard's last slots: MOVED).
        for i in range(rounds):
            self.assertEqual(self.r("check 400 rs%d" % i), "ok 400")
            self.assertEqual(self.r("check 400 ro%d" % i), "ok 400")
        st = self.r.stats()
        self.assertGreater(st["moved"] + st["ask"], 0, st)
        self.assertEqual(self.r("burst 1000 after"), "ok 1000")


class FailoverTest(_ClusterCase):
    def test_kill9_primary_then_replica_takes_over(self):
        key = "fo-key"
        slot = self.rc.keyslot(key)
        primary = self.rc.owner(slot)
        self.assertEqual(self.r("wait 1 SET %s v0" % key), "ok 1 +OK")
        self.assertEqual(self.r("call FCALL mqctest_get 1 " + key), "ok v0")
        hooks = self.r.stats()["hooks"]
        replica = self.rc.kill9_primary(primary)
        # A pipeline over every shard right after the kill: answered at once,
        # the dead shard's commands `unavailable`, never a hang.
        t0 = time.monotonic()
        out = self.r("burst 300 during")
        self.assertTrue(out.startswith("bad reply"), out)
        self.assertLess(time.monotonic() - t0, 5)
        t0 = time.monotonic()
        unavailable, n = 0, 0
        while True:
            n += 1
            out = self.r("call SET %s v%d" % (key, n))
            if out == "ok +OK":
                break
            self.assertTrue(out.startswith("unavail "), out)
            unavailable += 1
            self.assertLess(time.monotonic() - t0, 30, "no primary took over: " + out)
            time.sleep(0.05)
        took = time.monotonic() - t0
        self.assertGreater(unavailable, 0)  # the dead primary answered nothing
        self.assertEqual(self.rc.wait_failover(primary, slot), replica)
        self.assertEqual(self.r("node %d" % slot), "node " + self.addr(replica))
        self.assertEqual(self.r("call GET " + key), "ok v%d" % n)
        # The promoted replica got the library from the router's hook, and
        # the router loads it again where it is missing.
        st = self.r.stats()
        self.assertGreater(st["hooks"], hooks, st)
        self.rc.node(replica).call("FUNCTION", "FLUSH")
        self.assertEqual(self.r("call FCALL mqctest_get 1 " + key), "ok v%d" % n)
        out = self.r("each FUNCTION LIST")
        self.assertIn(self.addr(replica) + "=", out)
        self.assertNotIn("!", out)
        self.assertEqual(out.count("mqctest_get"), 3)
        # Pipelines over every shard work again.
        self.assertEqual(self.r("burst 2000 post"), "ok 2000")
        # The old primary comes back as a replica: WAIT 1 works again.
        self.rc.restart(primary)
        wait_for(lambda: self.rc.replica_of(replica) == primary, timeout=30,
                 what="the old primary to rejoin as a replica")
        self.assertEqual(self.r("wait 1 SET %s final" % key), "ok 1 +OK")
        # A manual failover back (CLUSTER FAILOVER on the replica): the old
        # connection now points at a replica, which answers MOVED; no
        # command fails.
        moved = self.r.stats()["moved"]
        self.rc.node(primary).call("CLUSTER", "FAILOVER")
        wait_for(lambda: all(self.rc.owner(slot, via=n) == primary for n in self.rc.live()),
                 timeout=30, what="the manual failover")
        self.assertEqual(self.r("call GET " + key), "ok final")
        self.assertGreater(self.r.stats()["moved"], moved)
        self.assertEqual(self.r("node %d" % slot), "node " + self.addr(primary))
        self.assertEqual(self.r("burst 1000 back"), "ok 1000")
        print("failover: %d unavailable answers, first success after %.2fs"
              % (unavailable, took))


class ClusterDownTest(_ClusterCase):
    def test_a_whole_shard_lost_then_back(self):
        # A primary and its replica both killed: the cluster stops serving
        # (CLUSTERDOWN, cluster-require-full-coverage), the router retries
        # with a backoff and answers `unavailable` after max_tries, then
        # works again once the shard is back.
        ports = self.rc.primary_ports()
        alive_key = next(k for k in ("d%d" % i for i in range(1000))
                         if self.rc.owner(self.rc.keyslot(k)) == ports[0])
        lost_key = next(k for k in ("d%d" % i for i in range(1000))
                        if self.rc.owner(self.rc.keyslot(k)) == ports[1])
        self.assertEqual(self.r("wait 1 SET %s a" % alive_key), "ok 1 +OK")
        self.assertEqual(self.r("wait 1 SET %s b" % lost_key), "ok 1 +OK")
        replica = self.rc.replica_of(ports[1])
        self.rc.node(replica).kill9()
        self.rc.node(ports[1]).kill9()
        wait_for(lambda: b"cluster_state:fail" in self.rc.node(ports[0]).call("CLUSTER", "INFO"),
                 timeout=30, what="the cluster to notice the lost shard")
        t0 = time.monotonic()
        out = self.r("call GET " + alive_key)
        self.assertTrue(out.startswith("unavail gave up after 5 tries: CLUSTERDOWN"), out)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertGreaterEqual(self.r.stats()["clusterdown"], 5)
        out = self.r("call GET " + lost_key)
        self.assertTrue(out.startswith("unavail "), out)
        self.rc.restart(ports[1])
        self.rc.restart(replica)
        self.rc.wait_ok()
        deadline = time.monotonic() + 30
        while True:
            out = self.r("call GET " + lost_key)
            if out == "ok b":
                break
            self.assertLess(time.monotonic(), deadline,
                            "the router did not reach the shard again: %s; %s"
                            % (out, self.r("stats")))
            time.sleep(0.05)
        self.assertEqual(self.r("call GET " + alive_key), "ok a")
        self.assertEqual(self.r("burst 1000 up"), "ok 1000")


class HungPrimaryTest(_ClusterCase):
    def test_hung_primary_times_out_then_fails_over(self):
        # SIGSTOP: the connection stays open and nothing answers. Commands
        # there fail after timeout + WAIT timeout (2 s here), whether read
        # the broker's way (harvest) or blocking; the others are answered.
        ports = self.rc.primary_ports()
        self.assertEqual(self.r("burst 300 pre"), "ok 300")  # connections open
        hung = ports[2]
        self.rc.node(hung).pause()
        try:
            t0 = time.monotonic()
            out = self.r("overlap 300 10 hung")
            took = time.monotonic() - t0
            self.assertTrue(out.startswith("bad reply") and "timed out" in out, out)
            self.assertLess(took, 8)
            print("hung primary: commands failed after %.2fs" % took)
        finally:
            self.rc.node(hung).resume()
        # Meanwhile the cluster may have failed the node over; either way
        # the router gets going again by itself.
        self.rc.wait_ok()
        deadline = time.monotonic() + 30
        while True:
            out = self.r("burst 300 post")
            if out == "ok 300":
                break
            self.assertLess(time.monotonic(), deadline, out)
            time.sleep(0.1)


if __name__ == "__main__":
    main()
