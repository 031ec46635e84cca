"""Three brokers sharing one Redis (nodes n1, n2, n3): users on different nodes
chat as if on one broker. Every message reaches every member's devices in seq
order exactly once (also a 500-message burst, also a user with devices on two
nodes); a member removed on one node stops receiving on another at once; a
node killed with SIGKILL is declared dead within the node timeout and its
users shown offline (unless connected elsewhere), who then sync everything
sent meanwhile from another node; the restarted node shows no ghosts and
knows the presence of users on the other nodes; and a
broadcast reaches users on every node."""
import json
import subprocess
import unittest

from harness import (CLI, DEFAULT_TIMEOUT, SANITIZE, Chat, Cluster, main, wait_for)

NODE_TIMEOUT_MS = 1500
BURST = 200 if SANITIZE else 500


def msgs(chat, conv, n, timeout=DEFAULT_TIMEOUT):
    """The next n msg events of conv, in arrival order."""
    return [chat.event(lambda e: e.get("t") == "msg" and e.get("conv") == conv, timeout,
                       "msg %d of %d" % (i + 1, n)) for i in range(n)]


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.cl = Cluster(3, {"presence_grace_ms": 0, "rate_msgs": 0,
                              "node_timeout_ms": NODE_TIMEOUT_MS}).__enter__()
        for u in ("alice", "bob", "carol", "dave", "erin"):
            self.cl.add_user(u, u + "-pw")

    def tearDown(self):
        self.cl.__exit__(None, None, None)

    def chat(self, user, node, client_id=None):
        return Chat(self.cl.node(node), user, user + "-pw", client_id=client_id)

    def test_group_across_three_nodes_in_order_with_a_burst(self):
        alice, bob, carol = self.chat("alice", 0), self.chat("bob", 1), self.chat("carol", 2)
        dave1, dave2 = self.chat("dave", 0, "dave-1"), self.chat("dave", 1, "dave-2")
        conv = alice.group("g3", ["bob", "carol", "dave"])
        for c in (bob, carol, dave1, dave2):
            c.event(lambda e: e.get("t") == "member" and e.get("conv") == conv)
        # One message from each node.
        alice.send(conv, "a1", "from n1")
        bob.send(conv, "b1", "from n2")
        carol.send(conv, "c1", "from n3")
        for c in (alice, bob, carol, dave1, dave2):
            got = msgs(c, conv, 3)
            self.assertEqual(sorted(e["id"] for e in got), ["a1", "b1", "c1"])
            self.assertEqual([e["seq"] for e in got], sorted(e["seq"] for e in got), c.user)
        # A burst from n2, seen in seq order, exactly once, on every device.
        for i in range(BURST):
            bob.send(conv, "burst-%d" % i, "m%d" % i, wait=False)
        for c in (alice, bob, carol, dave1, dave2):
            got = msgs(c, conv, BURST, timeout=DEFAULT_TIMEOUT * 3)
            seqs = [e["seq"] for e in got]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + BURST)), c.user)
            self.assertEqual(sorted(e["id"] for e in got),
                             sorted("burst-%d" % i for i in range(BURST)))
            extra = [e for e in c.barrier() if e.get("t") == "msg"]
            self.assertEqual(extra, [], c.user)  # nothing twice

    def test_removed_member_on_another_node_stops_receiving(self):
        alice, bob = self.chat("alice", 0), self.chat("bob", 1)
        carol, erin = self.chat("carol", 2), self.chat("erin", 2)
        conv = alice.group("g-rm", ["bob", "carol", "erin"])
        alice.send(conv, "before", "all of you")
        for c in (bob, carol, erin):
            c.msg(conv, "before")
        alice.ok("remove", conv=conv, members=["carol"])
        carol.event(lambda e: e.get("t") == "member" and e.get("op") == "removed")
        alice.send(conv, "after", "not carol")
        bob.msg(conv, "after")
        erin.msg(conv, "after")  # same node as carol, same bus message
        late = [e for e in carol.barrier() if e.get("t") == "msg"]
        self.assertEqual(late, [])
        # And carol, on n3, can no longer post (n3's cache was invalidated).
        carol.send(conv, "nope", "let me in")
        self.assertEqual(carol.err(id="nope")["code"], "not_member")

    def test_node_death_offline_then_sync_elsewhere_and_no_ghosts(self):
        alice, bob = self.chat("alice", 0), self.chat("bob", 1)
        erin = self.chat("erin", 1)
        conv = alice.direct("bob")
        conv_e = alice.direct("erin")
        token = bob.ok("sync")["next"]
        watch = self.cl.node(0).client("alice", "alice-pw", client_id="alice-watch")
        watch.subscribe("chat/presence/+")

        def state_of(user):
            def pred(m):
                return m.topic == "chat/presence/" + user
            return json.loads(watch.expect(pred, what="presence of " + user).payload)
        wait_for(lambda: state_of("bob")["state"] == "online", what="bob online")
        # n2 dies without a word.
        self.cl.brokers[1].stop(sig=9)
        wait_for(lambda: state_of("bob")["state"] == "offline",
                 timeout=NODE_TIMEOUT_MS / 1000 * 4 + DEFAULT_TIMEOUT, what="bob offline")
        for i in range(5):
            alice.send(conv, "while-%d" % i, "sent while n2 was dead")
            alice.msg(conv, "while-%d" % i)
        # bob comes back on n3 and syncs exactly what he missed.
        bob3 = self.chat("bob", 2, "bob-again")
        events = bob3.ok("sync", since=token)["events"]
        got = [e["id"] for e in events if e.get("t") == "msg"]
        self.assertEqual(got, ["while-%d" % i for i in range(5)])
        wait_for(lambda: state_of("bob")["state"] == "online", what="bob online on n3")
        # n2 restarts: erin (who was on it) stays offline, bob stays online.
        self.cl.brokers[1].start()
        wait_for(lambda: "cluster: joined as n2" in self.cl.brokers[1].log_text(),
                 what="n2 to rejoin")
        r = self.cl.redis
        self.assertEqual(r.call("HGET", "mqchat:{u:erin}:presence", "state"), b"offline")
        self.assertEqual(r.call("HGET", "mqchat:{u:bob}:presence", "state"), b"online")
        alice.send(conv_e, "to-erin", "are you there")
        alice.send(conv, "to-bob", "still on n3?")
        self.assertEqual(bob3.msg(conv, "to-bob")["body"], "still on n3?")
        ghosts = [m for m in watch.drain() if m.topic in ("chat/presence/bob",)
                  and json.loads(m.payload)["state"] != "online"]
        self.assertEqual(ghosts, [])
        # The restarted n2 learned bob's state on n3: its subscribers see it.
        w2 = self.cl.node(1).client("alice", "alice-pw", client_id="alice-watch-2")
        w2.subscribe("chat/presence/bob")
        seen = json.loads(w2.expect(lambda m: m.topic == "chat/presence/bob",
                                    what="bob's retained state on n2").payload)
        self.assertEqual(seen["state"], "online")
        erin.close()

    def test_broadcast_reaches_every_node(self):
        users = [self.chat("alice", 0), self.chat("bob", 1), self.chat("carol", 2)]
        r = self.cl.cli("broadcast", "--text", "maintenance at 5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent to 3 nodes", r.stdout)
        for c in users:
            e = c.event(lambda e: e.get("t") == "system", what="system event")
            self.assertEqual(e["text"], "maintenance at 5")
        # Bad input: no text, empty, too long, not UTF-8 -> usage error, nothing sent.
        for args in ((), ("--text", ""), ("--text", "x" * 4097), ("--text",),
                     ("--text", b"\xff\xfe")):
            r = subprocess.run([CLI, "--redis", self.cl.redis.url(), "broadcast", *args],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 2, args)
        for c in users:
            self.assertEqual([e for e in c.barrier() if e.get("t") == "system"], [])


if __name__ == "__main__":
    main()
