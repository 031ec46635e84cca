"""The replay of recent events on a directory change (ARCHITECTURE.md,
"Cluster"). Two nodes; n1 acts on the other node's on/off announcements
1.5 s late (plugin_opt_test_bus_delay_ms), which holds open the race the
replay closes: bob connects on n2 and syncs, then a message for him is
stored and routed on n1 before n1 knows he is on n2. He still gets it live,
exactly once, and so does carol (already known on n2, routed normally)."""
import time
import unittest

from harness import Chat, Cluster, DEFAULT_TIMEOUT, main, wait_for

DELAY_MS = 1500


class ReplayTest(unittest.TestCase):
    def setUp(self):
        cl = Cluster(2, {"presence_grace_ms": 0, "rate_msgs": 0})
        cl.brokers[0].options["test_bus_delay_ms"] = DELAY_MS
        self.cl = cl.__enter__()
        for u in ("alice", "bob", "carol"):
            self.cl.add_user(u, u + "-pw")

    def tearDown(self):
        self.cl.__exit__(None, None, None)

    def chat(self, user, node):
        return Chat(self.cl.node(node), user, user + "-pw")

    def n1_acted(self, user):
        return ("cluster: test delay over: on n2 %s" % user) in self.cl.brokers[0].log_text()

    def test_message_routed_before_the_announcement_arrives_live_once(self):
        alice = self.chat("alice", 0)
        conv = alice.group("g", ["bob", "carol"])
        carol = self.chat("carol", 1)
        wait_for(lambda: self.n1_acted("carol"), timeout=DELAY_MS / 1000 + DEFAULT_TIMEOUT,
                 what="n1 to learn that carol is on n2")
        # bob connects on n2 (which announces it at once) and syncs...
        bob = self.chat("bob", 1)
        bob.ok("sync")
        # ...then a message is stored via n1, which routes it before it has
        # acted on bob's announcement: only carol's copy goes to n2.
        t0 = time.monotonic()
        alice.send(conv, "m1", "hello both")
        alice.msg(conv, "m1")
        self.assertFalse(self.n1_acted("bob"), "the race was not open (machine too slow?)")
        self.assertEqual(carol.msg(conv, "m1")["body"], "hello both")
        got = bob.msg(conv, "m1", timeout=DELAY_MS / 1000 + DEFAULT_TIMEOUT)
        self.assertEqual(got["body"], "hello both")
        self.assertTrue(self.n1_acted("bob"))
        self.assertGreater(time.monotonic() - t0, 0.5)  # it came from the replay
        wait_for(lambda: "cluster: replayed 1 recent event(s) to n2 (user=bob)" in
                 self.cl.brokers[0].log_text(), what="n1's replay log line")
        # Exactly once each: the replay was for bob only.
        for c in (bob, carol):
            extra = [e for e in c.barrier() if e.get("t") == "msg"]
            self.assertEqual(extra, [], c.user)
        # Now that n1 knows, the next message goes the normal way, once.
        alice.send(conv, "m2", "again")
        for c in (bob, carol):
            c.msg(conv, "m2")
            self.assertEqual([e for e in c.barrier() if e.get("t") == "msg"], [], c.user)


if __name__ == "__main__":
    main()
