"""A user's presence contacts are read at their first login without holding
the login (plugin/contacts_load.c: the read is queued). Here the broker holds
each answer back (test_contacts_delay_ms), so what happens in between is
visible: a presence delivery to the user before the answer reads the set at
once (nothing is decided on a set not loaded yet), and an answer made stale
by a block in between is dropped for a full re-check."""
import json
import unittest

from harness import DEFAULT_TIMEOUT, Chat, Stack, inbox_barrier, main, wait_for

DELAY_MS = 2000


class ContactsLoadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": 0,
                                   "test_contacts_delay_ms": DELAY_MS}).__enter__()
        for u in ("wes", "una", "vic", "zed", "yan"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def applied(self, user):
        return ("presence: test delay over: contacts of %s" % user) in \
            self.stack.broker.log_text()

    def test_presence_before_the_answer_reads_the_contacts_at_once(self):
        wes = Chat(self.stack, "wes", "wes-pw")
        wes.group("g1", ["una"])
        una = self.stack.client("una", "una-pw")  # her answer is held back
        self.assertEqual(una.subscribe("chat/presence/wes"), [1])
        m = una.expect(lambda m: m.topic == "chat/presence/wes", what="wes's retained presence")
        self.assertEqual(json.loads(m.payload)["state"], "online")
        self.assertFalse(self.applied("una"), "the answer came first (machine too slow?)")
        # (the answer, when it comes, is not needed any more) and live updates
        wes.c.publish("chat/presence/wes", '{"state":"away"}')
        m = una.expect(lambda m: m.topic == "chat/presence/wes" and not m.retain,
                       what="wes away")
        self.assertEqual(json.loads(m.payload)["state"], "away")

    def test_answer_made_stale_by_a_block_is_not_used(self):
        vic = Chat(self.stack, "vic", "vic-pw")
        vic.group("g2", ["zed", "yan"])
        yan = self.stack.client("yan", "yan-pw")
        self.assertEqual(yan.subscribe("chat/presence/vic"), [1])
        zed = self.stack.client("zed", "zed-pw")  # read now (vic visible), answer held
        self.assertEqual(zed.subscribe("chat/u/zed/inbox"), [1])
        vic.ok("block", user="zed")
        self.assertFalse(self.applied("zed"), "the answer came first (machine too slow?)")
        wait_for(lambda: self.applied("zed"), timeout=DELAY_MS / 1000 + DEFAULT_TIMEOUT,
                 what="zed's held answer")
        # The held answer still listed vic; used, it would show zed vic's
        # presence (retained and live). The re-check knows about the block.
        self.assertEqual(zed.subscribe("chat/presence/vic"), [1])
        vic.c.publish("chat/presence/vic", '{"state":"away"}')
        yan.expect(lambda m: m.topic == "chat/presence/vic" and not m.retain and
                   json.loads(m.payload)["state"] == "away", what="vic away (control)")
        seen = [m for m in inbox_barrier(zed, "zed") if m.topic == "chat/presence/vic"]
        self.assertEqual(seen, [])


if __name__ == "__main__":
    main()
