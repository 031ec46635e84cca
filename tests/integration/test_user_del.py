"""`mqchat user del` (issue 14.3): deleting a user removes everything they own
in Redis (record, conversations set, timeline, cursors, push devices and
their token index, mutes, presence, node sets, any other per-user key),
takes them out of their groups with a `left` event to the others (live on
every node, stored for sync), disconnects their devices on every node,
keeps everyone else's history (their own messages included), and no push
job is made for them afterwards. Two brokers sharing one Redis; Redis is
read with raw commands through the harness."""
import json
import unittest

from harness import Chat, Cluster, conv_jobs, main, wait_for


class UserDelTest(unittest.TestCase):
    def setUp(self):
        self.cl = Cluster(2, {"presence_grace_ms": 0, "rate_msgs": 0}).__enter__()
        self.addCleanup(self.cl.__exit__, None, None, None)
        for u in ("zed", "alice", "bob"):
            self.cl.add_user(u, u + "-pw")
        self.r = self.cl.redis.call

    def chat(self, user, node):
        return Chat(self.cl.node(node), user, user + "-pw")

    def keys(self, pattern):
        out, cursor = [], b"0"
        while True:
            cursor, ks = self.r("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            out += ks
            if cursor == b"0":
                return sorted(out)

    def test_delete_user_everywhere(self):
        zed1, zed2 = self.chat("zed", 0), self.chat("zed", 1)
        alice, bob = self.chat("alice", 0), self.chat("bob", 1)
        group = zed1.group("trio", ["alice", "bob"])
        direct = zed1.direct("alice")
        zed1.ok("device", platform="apns", token="tok-zed-1", app="com.example.chat",
                sandbox=False)
        zed1.ok("mute", conv=direct, until=4102444800000)
        zed1.send(group, "z1", "from zed in the group")
        alice.send(group, "a1", "from alice in the group")
        zed1.send(direct, "z2", "from zed to alice")
        alice.send(direct, "a2", "from alice to zed")
        for c, mid in ((alice, "z1"), (bob, "a1"), (zed2, "a2"), (alice, "z2")):
            c.msg(group if mid in ("z1", "a1") else direct, mid)
        zed2.ok("sync")
        zed1.ok("history", conv=group)
        # Another per-user key of some feature (e.g. a block list).
        self.r("SADD", "mqchat:{u:zed}:blocked", "mallory")
        self.assertTrue(self.keys("mqchat:{u:zed}:*"))

        res = self.cl.cli("user", "del", "zed")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("deleted user zed", res.stdout)

        # The others hear that zed left the group, live, on both nodes.
        for c in (alice, bob):
            ev = c.event(lambda e: e.get("t") == "member" and e.get("conv") == group and
                         e.get("op") != "added", what="left event")
            self.assertEqual((ev["op"], ev["users"], ev["by"]), ("left", ["zed"], "zed"))
        # zed's devices are disconnected on both nodes and cannot come back.
        for z in (zed1, zed2):
            wait_for(z.c.disconnected.is_set, what="zed's device to be disconnected")
        again = self.cl.node(0).client("zed", "zed-pw", connect=False)
        self.assertNotIn(again.connect(), (0, None))
        # After the disconnects were handled (barriers on both nodes), Redis
        # holds nothing of zed's.
        alice.barrier()
        bob.barrier()
        self.assertEqual(self.keys("mqchat:{u:zed}:*"), [])
        self.assertIsNone(self.r("GET", "mqchat:devtoken:tok-zed-1"))
        self.assertEqual(self.r("SISMEMBER", "mqchat:users", "zed"), 0)
        for n in ("n1", "n2"):
            self.assertEqual(self.r("SISMEMBER", "mqchat:{n:%s}:users" % n, "zed"), 0)
        for conv in (group, direct):
            self.assertIsNone(self.r("HGET", "mqchat:{c:%s}:members" % conv, "zed"))
            rcpt = self.r("HGETALL", "mqchat:{c:%s}:rcpt" % conv)
            self.assertFalse([k for k in rcpt[::2] if k.endswith(b":zed")], rcpt)
        self.assertEqual(self.r("HGET", "mqchat:{c:%s}:members" % group, "alice"), b"admin")

        # zed's leaving and a message into the group afterwards each have
        # their one job (lazy fan-out, #15); zed is no recipient of the
        # message: no member, no cursor (asserted above), so mqchat-push's
        # recipients never include him.
        alice.send(group, "a3", "after zed left")
        a3 = alice.msg(group, "a3")
        jobs = conv_jobs(self.cl.redis, group)
        left = [j for j in jobs if j["k"] == "member" and j["u"] == "zed"]
        self.assertEqual(len(left), 1)
        self.assertEqual([j["k"] for j in jobs if j["s"] == str(a3["seq"])], ["msg"])
        self.assertEqual(int(left[0]["s"]), a3["seq"] - 1)

        # Everyone else's history is intact, zed's own messages included.
        h = alice.ok("history", conv=group)["items"]
        self.assertEqual([e.get("id") for e in h if e["t"] == "msg"], ["z1", "a1", "a3"])
        self.assertEqual(h[-2]["op"], "left")
        d = alice.ok("history", conv=direct)["items"]
        self.assertEqual([e["id"] for e in d], ["z2", "a2"])
        self.assertEqual(d[0]["body"], "from zed to alice")

    def test_unknown_user(self):
        res = self.cl.cli("user", "del", "nobody")
        self.assertEqual(res.returncode, 1)
        self.assertIn("no such user", res.stderr)

    def test_last_member_takes_the_conversation_along(self):
        zed = self.chat("zed", 0)
        group = zed.group("alone", [])
        zed.send(group, "z1", "only me")
        zed.msg(group, "z1")
        zed.close()
        res = self.cl.cli("user", "del", "zed")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(self.keys("mqchat:{c:%s}:*" % group), [])


if __name__ == "__main__":
    main()
