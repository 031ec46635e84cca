"""Blocking (PROTOCOL.md "Blocking"): block/unblock/blocked are idempotent,
refuse oneself and unknown users; while alice blocks mallory, mallory cannot
create a direct conversation with alice, add her to a group or send into
their direct conversation (forbidden, nothing stored), and alice's presence
is hidden from mallory at once, also on another node; groups they already
share keep working and alice may leave them; unblocking restores it all."""
import json
import unittest

from harness import Chat, Cluster, Stack, inbox_barrier, main


class BlockingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": 0}).__enter__()
        for u in ("alice", "mallory", "bob", "carol", "dave"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def chat(self, user):
        return Chat(self.stack, user, user + "-pw")

    def xlen(self, conv):
        return int(self.stack.redis.call("XLEN", "mqchat:{c:%s}:log" % conv))

    def test_ops_and_errors(self):
        c = self.chat("carol")
        self.assertEqual(c.ok("blocked")["items"], [])
        c.ok("block", user="dave")
        c.ok("block", user="dave")  # idempotent
        c.ok("block", user="bob")
        self.assertEqual(c.ok("blocked")["items"], ["bob", "dave"])
        self.assertEqual(c.req("block", user="carol")["code"], "bad_request")
        self.assertEqual(c.req("block", user="nobody")["code"], "not_found")
        self.assertEqual(c.req("block", user="a/b")["code"], "bad_request")
        self.assertEqual(c.req("block")["code"], "bad_request")
        self.assertEqual(c.req("unblock", user="nobody")["code"], "not_found")
        c.ok("unblock", user="dave")
        c.ok("unblock", user="dave")  # idempotent
        c.ok("unblock", user="bob")
        self.assertEqual(c.ok("blocked")["items"], [])

    def test_blocked_user_cannot_reach_the_blocker(self):
        a, m, b = self.chat("alice"), self.chat("mallory"), self.chat("bob")
        direct = m.direct("alice")  # before the block
        shared = a.group("shared", ["mallory", "bob"])
        m.send(direct, "m0", "hi")
        a.msg(direct, "m0")
        a.ok("block", user="mallory")
        # create, add, send into the direct conversation: forbidden, nothing stored
        self.assertEqual(m.req("create", kind="direct", **{"with": "alice"})["code"],
                         "forbidden")
        mg = m.group("mallorys", ["bob"])
        self.assertEqual(m.req("add", conv=mg, members=["alice"])["code"], "forbidden")
        self.assertEqual(m.req("create", kind="group", title="x",
                               members=["alice", "bob"])["code"], "forbidden")
        before = self.xlen(direct)
        m.send(direct, "m1", "let me in")
        self.assertEqual(m.err(id="m1")["code"], "forbidden")
        self.assertEqual(self.xlen(direct), before)
        self.assertEqual([c for c in m.ok("convs")["items"] if c["conv"] == mg][0]["members"],
                         ["bob", "mallory"])
        # the blocker may still write to the direct conversation
        a.send(direct, "a1", "go away")
        m.msg(direct, "a1")
        # the group they share keeps working for both; alice may leave it
        m.send(shared, "g1", "still here")
        a.msg(shared, "g1")
        a.send(shared, "g2", "me too")
        m.msg(shared, "g2")
        a.ok("leave", conv=shared)
        # unblock: everything works again
        a.ok("unblock", user="mallory")
        m.send(direct, "m2", "sorry")
        a.msg(direct, "m2")
        m.ok("add", conv=mg, members=["alice"])
        a.event(lambda e: e.get("t") == "member" and e.get("conv") == mg)

    def test_presence_hidden_from_the_blocked_user(self):
        self.stack.add_user("ann", "ann-pw")
        self.stack.add_user("max", "max-pw")
        self.stack.add_user("wit", "wit-pw")
        ann = self.chat("ann")
        ann.group("g", ["max", "wit"])  # they share a group, and keep it
        mw = self.stack.client("max", "max-pw")
        self.assertEqual(mw.subscribe("chat/u/max/inbox"), [1])
        self.assertEqual(mw.subscribe("chat/presence/ann"), [1])
        ww = self.stack.client("wit", "wit-pw")
        self.assertEqual(ww.subscribe("chat/presence/ann"), [1])

        def live(c, state):
            c.expect(lambda m: m.topic == "chat/presence/ann" and not m.retain and
                     json.loads(m.payload)["state"] == state, what="ann " + state)
        ann.c.publish("chat/presence/ann", '{"state":"away"}')
        live(mw, "away")
        live(ww, "away")
        ann.ok("block", user="max")
        ann.c.publish("chat/presence/ann", '{"state":"online"}')
        live(ww, "online")  # went out
        seen = [m.payload for m in inbox_barrier(mw, "max") if m.topic == "chat/presence/ann"]
        self.assertEqual(seen, [])
        # ann still sees max
        aw = self.stack.client("ann", "ann-pw")
        self.assertEqual(aw.subscribe("chat/presence/max"), [1])
        aw.expect(lambda m: m.topic == "chat/presence/max", what="max's presence for ann")
        aw.close()  # (a second device of ann would keep her online)
        # a fresh connection of max sees nothing of ann either
        mw2 = self.stack.client("max", "max-pw", client_id="max-2")
        self.assertEqual(mw2.subscribe("chat/u/max/inbox"), [1])
        self.assertEqual(mw2.subscribe("chat/presence/ann"), [1])
        self.assertEqual([m for m in inbox_barrier(mw2, "max")
                          if m.topic == "chat/presence/ann"], [])
        # unblock: max sees ann's updates again
        ann.ok("unblock", user="max")
        ann.c.publish("chat/presence/ann", '{"state":"away"}')
        live(mw, "away")


class BlockingClusterTest(unittest.TestCase):
    def test_block_hides_presence_on_another_node(self):
        with Cluster(2, {"presence_grace_ms": 0}) as cl:
            for u in ("alice", "mallory", "wit"):
                cl.add_user(u, u + "-pw")
            alice = Chat(cl.node(0), "alice", "alice-pw")
            alice.group("g", ["mallory", "wit"])
            mw = cl.node(1).client("mallory", "mallory-pw")
            self.assertEqual(mw.subscribe("chat/u/mallory/inbox"), [1])
            self.assertEqual(mw.subscribe("chat/presence/alice"), [1])
            ww = cl.node(1).client("wit", "wit-pw")
            self.assertEqual(ww.subscribe("chat/presence/alice"), [1])

            def live(c, state):
                c.expect(lambda m: m.topic == "chat/presence/alice" and not m.retain and
                         json.loads(m.payload)["state"] == state, what="alice " + state)
            alice.c.publish("chat/presence/alice", '{"state":"away"}')
            live(mw, "away")
            live(ww, "away")
            alice.ok("block", user="mallory")
            alice.c.publish("chat/presence/alice", '{"state":"online"}')
            live(ww, "online")  # reached n2
            seen = [m.payload for m in inbox_barrier(mw, "mallory")
                    if m.topic == "chat/presence/alice"]
            self.assertEqual(seen, [])


if __name__ == "__main__":
    main()
