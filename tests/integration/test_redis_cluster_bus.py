"""The brokers' bus (store/bus.c, store/bus_shard.c) on a real Redis Cluster
of 3 primaries + 3 replicas (cluster_harness.py): sharded pub/sub, driven
through tests/cluster/busctl. Two buses for two node names: node-directed
and all-node messages arrive both ways, each channel SSUBSCRIBEd on the
primary of its slot (the node channels of different brokers on different
shards; one connection for two channels on one primary). The primary
serving a node channel killed -9, or hung (SIGSTOP), or failed over by
CLUSTER FAILOVER, or its whole shard lost and back: the bus comes back
where the slot now lives by itself (resubscribed) and messages flow again.
A slot migration of a channel's slot (CLUSTER SETSLOT): the server
unsubscribes, the bus resubscribes on the new owner. On one Redis the same
bus keeps plain SUBSCRIBE/PUBLISH. ctest label `cluster`."""

import os
import select
import subprocess
import tempfile
import shutil
import time
import unittest

from cluster_harness import RedisCluster
from harness import DEFAULT_TIMEOUT, Redis, wait_for

BUSCTL = os.environ.get("MQCHAT_BUSCTL", "")
PREFIX = "mqchat:"
# Waits inside busctl (ms): a failover with cluster-node-timeout 1000 takes
# a few seconds; the deadline is generous for a loaded CI machine.
UP_MS = 10000
RESUB_MS = 30000


class BusCtl:
    """A busctl process: one line in, one line out."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([BUSCTL] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, line, timeout=DEFAULT_TIMEOUT * 8):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("busctl did not answer %r within %.0fs" % (line, timeout))
        out = self.proc.stdout.readline()
        if not out:
            raise AssertionError("busctl exited (%s) on %r" % (self.proc.wait(), line))
        return out.rstrip("\n")

    def chan(self, node):
        _, name, slot = self("chan " + node).split()
        return name, int(slot)

    def pub_until(self, node, data, receivers, timeout=DEFAULT_TIMEOUT * 3):
        """Publish until the server counts `receivers` subscribers (right
        after a failover the router may still answer `unavailable`)."""
        last = []

        def once():
            last[:] = [self("pub %s %s" % (node, data))]
            return last[0] == "ok %d" % receivers
        try:
            wait_for(once, timeout=timeout, interval=0.05,
                     what="pub %s to reach %d" % (node, receivers))
        except AssertionError as e:
            raise AssertionError("%s (last answer: %s)" % (e, last)) from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        if self.proc.returncode != 0:
            raise AssertionError("busctl exited with %s" % self.proc.returncode)


def shard_subs(node, chan):
    """Sharded subscribers of chan on node (PUBSUB SHARDNUMSUB)."""
    return node.call("PUBSUB", "SHARDNUMSUB", chan)[1]


class ShardedBusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUSCTL:
            raise unittest.SkipTest("MQCHAT_BUSCTL not set (run through ctest)")
        cls.rc = RedisCluster()
        cls.rc.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.rc.__exit__(None, None, None)

    def setUp(self):
        self.b = BusCtl(self.rc.seeds(), "--prefix", PREFIX)
        # Two node names whose channels live on two different primaries,
        # neither the shared channel's: each bus then needs two connections.
        self.all_chan, self.all_slot = self.b.chan("*")
        all_owner = self.rc.owner(self.all_slot)
        names, owners = [], {all_owner}
        for i in range(1000):
            chan, slot = self.b.chan("n%d" % i)
            owner = self.rc.owner(slot)
            if owner not in owners:
                names.append(("n%d" % i, chan, slot))
                owners.add(owner)
            if len(names) == 2:
                break
        self.assertEqual(len(names), 2)
        (self.n1, self.c1, self.s1), (self.n2, self.c2, self.s2) = names
        self.assertEqual(self.b("bus a " + self.n1), "ok")
        self.assertEqual(self.b("bus b " + self.n2), "ok")
        self.assertEqual(self.b("up a %d" % UP_MS), "up")
        self.assertEqual(self.b("up b %d" % UP_MS), "up")

    def tearDown(self):
        self.b.close()

    def expect(self, bus, want, ms=UP_MS):
        """The next message bus drained is want. An earlier exchange's
        message may come again: pub_until retries a publish the router
        answered `unavailable` (a hung primary), and the first attempt can
        still run when that node resumes (it propagates to its shard)."""
        while True:
            got = self.b("recv %s %d" % (bus, ms))
            if got == want or got not in self.seen:
                self.assertEqual(got, want)
                if got != "none":
                    self.seen.add(got)
                return

    def exchange(self, tag):
        """Node-directed both ways and one to all: each arrives where it
        should, and only there."""
        if not hasattr(self, "seen"):
            self.seen = set()
        self.b.pub_until(self.n1, "to-a-" + tag, 1)
        self.expect("a", "msg node to-a-" + tag)
        self.b.pub_until(self.n2, "to-b-" + tag, 1)
        self.expect("b", "msg node to-b-" + tag)
        self.b.pub_until("*", "all-" + tag, 2)
        self.expect("a", "msg all all-" + tag)
        self.expect("b", "msg all all-" + tag)
        self.expect("a", "none", 100)
        self.expect("b", "none", 100)

    def test_messages_both_ways_on_the_channels_shards(self):
        self.exchange("1")
        # Each channel is SSUBSCRIBEd on the primary of its slot, nowhere
        # else, and not with plain SUBSCRIBE.
        for chan, slot, n in ((self.c1, self.s1, 1), (self.c2, self.s2, 1),
                              (self.all_chan, self.all_slot, 2)):
            owner = self.rc.owner(slot)
            for p in self.rc.primary_ports():
                self.assertEqual(shard_subs(self.rc.node(p), chan), n if p == owner else 0,
                                 (chan, p))
                self.assertEqual(self.rc.node(p).call("PUBSUB", "NUMSUB", chan)[1], 0)
        # The three channels are on three different shards.
        self.assertEqual(len({self.rc.owner(s) for s in (self.s1, self.s2, self.all_slot)}), 3)
        # A node whose channel shares the shared channel's primary: one
        # connection SSUBSCRIBEd to both slots.
        owner = self.rc.owner(self.all_slot)
        n3 = next("n%d" % i for i in range(1000)
                  if self.rc.owner(self.b.chan("n%d" % i)[1]) == owner)
        self.assertEqual(self.b("bus c " + n3), "ok")
        self.assertEqual(self.b("up c %d" % UP_MS), "up")
        clients = self.rc.node(owner).call("CLIENT", "LIST").decode()
        self.assertIn(" ssub=2 ", clients)
        self.b.pub_until(n3, "to-c", 1)
        self.assertEqual(self.b("recv c %d" % UP_MS), "msg node to-c")
        self.b.pub_until("*", "all-3", 3)
        for name in "abc":
            self.assertEqual(self.b("recv %s %d" % (name, UP_MS)), "msg all all-3")
        self.assertEqual(self.b("free c"), "ok")
        # A burst keeps its order.
        for i in range(200):
            self.assertEqual(self.b("pub %s m%d" % (self.n1, i)), "ok 1")
        for i in range(200):
            self.assertEqual(self.b("recv a %d" % UP_MS), "msg node m%d" % i)

    def test_kill9_primary_of_a_node_channel(self):
        self.exchange("before")
        primary = self.rc.owner(self.s1)
        t0 = time.monotonic()
        replica = self.rc.kill9_primary(primary)
        out = self.b("resub a %d" % RESUB_MS)
        self.assertTrue(out.startswith("resub "), out)
        took = time.monotonic() - t0
        print("bus resubscribed %.2f s after kill -9 of the primary (cluster-node-timeout 1 s)"
              % took)
        # On the promoted replica now.
        self.assertEqual(self.rc.wait_failover(primary, self.s1), replica)
        self.assertEqual(shard_subs(self.rc.node(replica), self.c1), 1)
        # The other bus never lost a channel.
        self.assertEqual(self.b("up b 0"), "up")
        self.exchange("after")
        # Put the killed node back (as a replica) for the other tests.
        self.rc.restart(primary)
        wait_for(lambda: self.rc.replica_of(replica) is not None, timeout=30,
                 what="the old primary to rejoin as a replica")

    def test_hung_primary_of_a_node_channel(self):
        # SIGSTOP: the socket stays open and silent, no EOF, no sunsubscribe;
        # the bus finds the promoted replica by its periodic map check.
        self.exchange("before")
        primary = self.rc.owner(self.s1)
        replica = self.rc.replica_of(primary)
        self.assertIsNotNone(replica)
        t0 = time.monotonic()
        self.rc.node(primary).pause()
        try:
            others = [n for n in self.rc.live() if n.port != primary]
            wait_for(lambda: all(self.rc.owner(self.s1, via=n) == replica for n in others),
                     timeout=30, interval=0.05, what="%d to take over" % replica)
            out = self.b("resub a %d" % RESUB_MS)
            self.assertTrue(out.startswith("resub "), out)
            print("bus resubscribed %.2f s after SIGSTOP of the primary" % (time.monotonic() - t0))
            self.assertEqual(shard_subs(self.rc.node(replica), self.c1), 1)
            self.exchange("after")
        finally:
            self.rc.node(primary).resume()
        wait_for(lambda: self.rc.replica_of(replica) is not None, timeout=30,
                 what="the old primary to rejoin as a replica")
        self.exchange("resumed")

    def test_a_whole_shard_lost_then_back(self):
        # The node channel's primary and its replica both killed: nothing
        # serves the slot (the cluster goes down); the bus keeps trying and
        # is back once the shard is.
        self.exchange("before")
        primary = self.rc.owner(self.s1)
        replica = self.rc.replica_of(primary)
        self.assertIsNotNone(replica)
        self.rc.node(replica).kill9()
        self.rc.node(primary).kill9()
        wait_for(lambda: self.b("up a 0") == "down", what="bus a to lose its node channel")
        self.rc.restart(primary)
        self.rc.restart(replica)
        self.rc.wait_ok()
        out = self.b("resub a %d" % RESUB_MS)
        self.assertTrue(out.startswith("resub "), out)
        self.assertEqual(shard_subs(self.rc.node(self.rc.owner(self.s1)), self.c1), 1)
        self.exchange("after")
        wait_for(lambda: all(self.rc.replica_of(p) for p in self.rc.primary_ports()),
                 timeout=30, what="every primary to have a replica again")

    def test_manual_failover_of_a_node_channels_primary(self):
        # CLUSTER FAILOVER: the old primary turns replica and keeps running.
        self.exchange("before")
        primary = self.rc.owner(self.s2)
        replica = self.rc.replica_of(primary)
        self.assertIsNotNone(replica)
        t0 = time.monotonic()
        self.rc.node(replica).call("CLUSTER", "FAILOVER")
        out = self.b("resub b %d" % RESUB_MS)
        self.assertTrue(out.startswith("resub "), out)
        print("bus resubscribed %.2f s after CLUSTER FAILOVER" % (time.monotonic() - t0))
        wait_for(lambda: self.rc.owner(self.s2) == replica, what="%d to take over" % replica)
        self.assertEqual(shard_subs(self.rc.node(replica), self.c2), 1)
        self.assertEqual(shard_subs(self.rc.node(primary), self.c2), 0)
        # The publisher's router was told nothing (no MOVED: a replica
        # takes SPUBLISH too) and still sends to the demoted node, which
        # counts only its own subscribers but forwards the message within
        # its shard: it arrives.
        self.assertIn(self.b("pub %s stale-map" % self.n2), ("ok 0", "ok 1"))
        self.expect("b", "msg node stale-map")
        self.assertEqual(self.b("refresh"), "ok")
        self.exchange("after")

    def test_slot_migration_of_a_channels_slot(self):
        self.exchange("before")
        # First n1's slot to the shared channel's primary (bus a then has
        # one connection for both), then the shared channel's slot away.
        for name, chan, slot in (("a", self.c1, self.s1), ("b", self.all_chan, self.all_slot)):
            src = self.rc.owner(slot)
            dst = (self.rc.owner(self.all_slot) if name == "a" else
                   next(p for p in self.rc.primary_ports() if p != src))
            self.rc.move_slot(slot, dst)
            out = self.b("resub %s %d" % (name, RESUB_MS))
            self.assertTrue(out.startswith("resub "), out)
            print("bus resubscribed after slot %d moved: %s ms after the move ended"
                  % (slot, out.split()[1]))
            if name == "b":  # both buses listen to the shared channel
                out = self.b("resub a %d" % RESUB_MS)
                self.assertTrue(out.startswith("resub "), out)
            wait_for(lambda: shard_subs(self.rc.node(dst), chan) == (2 if name == "b" else 1),
                     what="the bus on %d" % dst)
            self.assertEqual(shard_subs(self.rc.node(src), chan), 0)
            self.exchange("after-" + name)


class SingleRedisBusTest(unittest.TestCase):
    """One Redis: plain SUBSCRIBE and PUBLISH, as before."""

    def test_plain_pubsub(self):
        if not BUSCTL:
            raise unittest.SkipTest("MQCHAT_BUSCTL not set (run through ctest)")
        d = tempfile.mkdtemp(prefix="mqc-bus-")
        redis = Redis(d)
        b = None
        try:
            redis.start()
            b = BusCtl("--single", "127.0.0.1:%d" % redis.port, "--prefix", PREFIX)
            self.assertEqual(b("bus a n1"), "ok")
            self.assertEqual(b("bus b n2"), "ok")
            self.assertEqual(b("up a %d" % UP_MS), "up")
            self.assertEqual(b("up b %d" % UP_MS), "up")
            self.assertEqual(b("pub n1 x"), "ok 1")
            self.assertEqual(b("recv a %d" % UP_MS), "msg node x")
            self.assertEqual(b("pub * y"), "ok 2")
            self.assertEqual(b("recv a %d" % UP_MS), "msg all y")
            self.assertEqual(b("recv b %d" % UP_MS), "msg all y")
            self.assertEqual(b("recv b 100"), "none")
            self.assertEqual(redis.call("PUBSUB", "NUMSUB", PREFIX + "bus:all")[1], 2)
            self.assertEqual(redis.call("PUBSUB", "SHARDNUMSUB", PREFIX + "bus:all")[1], 0)
            # Redis restarted: the bus resubscribes by itself.
            redis.stop()
            wait_for(lambda: b("up a 0") == "down", what="the bus to see Redis gone")
            redis.start()
            self.assertTrue(b("resub a %d" % RESUB_MS).startswith("resub "))
        finally:
            if b:
                b.close()
            redis.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
