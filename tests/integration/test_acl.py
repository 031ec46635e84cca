"""The topic ACL against a real broker: every forbidden subscribe gets a
failure SUBACK, spoofed publishes into inboxes reach nobody, retained junk
under chat/ is refused, other_topics works with %u, and the broker survives
all of it."""
import json
import unittest

from harness import V311, V5, Stack, main

REFUSED_V3 = 0x80
REFUSED_V5 = 0x87


class AclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"other_topics": "devices/%u/# public/#"}).__enter__()
        cls.stack.add_user("alice", "apw")
        cls.stack.add_user("bob", "bpw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def barrier(self, client, user):
        """Make the server send `client` an err event (it publishes a bad
        request to its own req topic) and return everything it received
        before that event. Deliveries to one client keep their order, so
        anything queued earlier has arrived by then."""
        client.publish("chat/u/%s/req" % user, b"not json")
        client.expect(lambda m: m.topic == "chat/u/%s/inbox" % user and
                      json.loads(m.payload).get("t") == "err", what="barrier err event")
        return client.skipped

    def test_forbidden_subscribes_get_failure_suback(self):
        for proto, refused in ((V311, REFUSED_V3), (V5, REFUSED_V5)):
            c = self.stack.client("alice", "apw", protocol=proto)
            for f in ["#", "chat/#", "chat/u/bob/inbox", "chat/u/+/inbox", "chat/u/alice/+",
                      "chat/u/alice/#", "+/u/bob/inbox", "chat/+/bob/inbox", "+/#", "+",
                      "chat/u/alice/req", "chat/c/c1/send", "chat/c/+/send", "chat/other",
                      "chat/presence/#", "$SYS/#", "$SYS/broker/uptime", "$share/g/#",
                      "$share/g/chat/u/bob/inbox", "devices/bob/x", "devices/+/x",
                      "devices/#", "private/x"]:
                self.assertEqual(c.subscribe(f), [refused], "%s (proto %s)" % (f, proto))
            for f in ["chat/u/alice/inbox", "chat/presence/bob", "chat/presence/+",
                      "devices/alice/#", "devices/alice/+/temp", "public/news",
                      "$share/g/chat/u/alice/inbox"]:
                self.assertEqual(c.subscribe(f), [1], "%s (proto %s)" % (f, proto))
            c.close()

    def test_spoofed_inbox_publish_reaches_nobody(self):
        alice = self.stack.client("alice", "apw")
        self.assertEqual(alice.subscribe("chat/u/alice/inbox"), [1])
        bob = self.stack.client("bob", "bpw", protocol=V5)
        fake = json.dumps({"t": "msg", "conv": "c1", "seq": 1, "from": "carol", "body": "hi"})
        bob.publish("chat/u/alice/inbox", fake)
        bob.publish("chat/u/alice/inbox", fake, retain=True)
        alice.publish("chat/u/alice/inbox", fake)  # not even the owner writes there
        before = self.barrier(alice, "alice")
        self.assertEqual([m.payload for m in before], [])
        late = self.stack.client("alice", "apw")
        self.assertEqual(late.subscribe("chat/u/alice/inbox"), [1])
        self.assertEqual(self.barrier(late, "alice"), [])  # no retained spoof either

    def test_retained_junk_and_foreign_presence_refused(self):
        alice = self.stack.client("alice", "apw")
        alice.publish("chat/presence/alice", '{"state":"online"}', retain=True)
        bob = self.stack.client("bob", "bpw")
        bob.publish("chat/presence/alice", '{"state":"offline"}', retain=True)
        bob.publish("chat/u/bob/req", '{"op":"convs","req":"r"}', retain=True)
        bob.publish("chat/junk", "x", retain=True)
        watcher = self.stack.client("alice", "apw")
        self.assertEqual(watcher.subscribe("chat/presence/alice"), [1])
        m = watcher.expect(lambda m: m.topic == "chat/presence/alice", what="own presence")
        self.assertIn(b"online", m.payload)
        self.assertTrue(m.retain)
        self.assertEqual(self.barrier(watcher, "alice"), [])  # nothing from bob's retained junk

    def test_presence_of_strangers_not_delivered(self):
        alice = self.stack.client("alice", "apw")
        self.assertEqual(alice.subscribe("chat/presence/+"), [1])
        bob = self.stack.client("bob", "bpw")
        bob.publish("chat/presence/bob", '{"state":"away"}', retain=True)
        got = self.barrier(alice, "alice")
        self.assertNotIn("chat/presence/bob", [m.topic for m in got])

    def test_other_topics_with_user_substitution(self):
        a1 = self.stack.client("alice", "apw")
        a2 = self.stack.client("alice", "apw")
        bob = self.stack.client("bob", "bpw")
        self.assertEqual(a1.subscribe("devices/alice/#"), [1])
        self.assertEqual(bob.subscribe("public/#"), [1])
        bob.publish("devices/alice/cmd", "from-bob")      # refused: not bob's tree
        a2.publish("devices/alice/cmd", "from-alice")
        m = a1.expect(lambda m: m.topic == "devices/alice/cmd", what="own device topic")
        self.assertEqual(m.payload, b"from-alice")
        self.assertEqual(a1.skipped, [])
        a2.publish("public/news", "hello")
        self.assertEqual(bob.expect(lambda m: m.topic == "public/news").payload, b"hello")
        a2.publish("elsewhere/x", "nope")                 # not in other_topics
        a2.publish("$SYS/broker/fake", "nope")

    def test_non_member_send_gets_not_member(self):
        for proto in (V311, V5):
            alice = self.stack.client("alice", "apw", protocol=proto)
            self.assertEqual(alice.subscribe("chat/u/alice/inbox"), [1])
            alice.publish("chat/c/c1/send", json.dumps({"id": "m1", "body": "hi"}))
            m = alice.expect(lambda m: json.loads(m.payload).get("t") == "err")
            ev = json.loads(m.payload)
            self.assertEqual(ev["code"], "not_member")
            self.assertIn("ts", ev)
            alice.close()

    def test_broker_survives_everything(self):
        self.assertTrue(self.stack.broker.alive())
        c = self.stack.client("bob", "bpw")
        self.assertEqual(c.subscribe("chat/u/bob/inbox"), [1])


if __name__ == "__main__":
    main()
