"""Presence decided by the broker: online on connect, offline only when the
last device leaves (clean or dead socket), away/online updates, retained for
late subscribers, wills that cannot lie, visibility limited to contacts,
takeovers and restarts without ghosts."""
import json
import time
import unittest

from harness import V5, Chat, Stack, main, raw_connect, wait_for

GRACE_MS = 300


class PresenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": GRACE_MS}).__enter__()
        for u in ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan",
                  "judy", "stranger"):
            cls.stack.add_user(u, u + "-pw")
        # alice shares conversations with everyone but "stranger"
        a = Chat(cls.stack, "alice", "alice-pw")
        a.group("everyone", ["bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan",
                             "judy"])
        a.close()
        wait_for(lambda: cls.state_in_redis("alice") == "offline", what="alice offline")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    @classmethod
    def state_in_redis(cls, user):
        # the stack's Redis call follows MOVED (a cluster's node of the key)
        v = cls.stack.redis.call("HGET", "mqchat:{u:%s}:presence" % user, "state")
        return v.decode() if isinstance(v, bytes) else (v or "")

    def watcher(self):
        w = self.stack.client("alice", "alice-pw")
        self.assertEqual(w.subscribe("chat/presence/+"), [1])
        return w

    def next_state(self, w, user, timeout=10):
        """The next live presence change of user (retained replays of earlier
        tests' states, delivered at subscribe time, are skipped)."""
        m = w.expect(lambda m: m.topic == "chat/presence/" + user and not m.retain, timeout,
                     "presence of " + user)
        return json.loads(m.payload)

    def test_online_then_offline_with_last_seen(self):
        w = self.watcher()
        bob = self.stack.client("bob", "bob-pw")
        st = self.next_state(w, "bob")
        self.assertEqual((st["user"], st["state"]), ("bob", "online"))
        self.assertIn("ts", st)
        before = int(time.time() * 1000)
        bob.close()
        st = self.next_state(w, "bob")
        self.assertEqual(st["state"], "offline")
        self.assertLessEqual(abs(st["last_seen"] - before), 2000)
        self.assertEqual(self.state_in_redis("bob"), "offline")

    def test_second_device_drop_keeps_online(self):
        w = self.watcher()
        c1 = self.stack.client("carol", "carol-pw")
        self.assertEqual(self.next_state(w, "carol")["state"], "online")
        c2 = self.stack.client("carol", "carol-pw")
        c2.close()
        c1.publish("chat/presence/carol", '{"state":"away"}')  # a barrier through presence
        st = self.next_state(w, "carol")
        self.assertEqual(st["state"], "away")  # no offline in between
        c1.close()
        self.assertEqual(self.next_state(w, "carol")["state"], "offline")

    def test_dead_socket_goes_offline_after_keepalive(self):
        w = self.watcher()
        # A bare MQTT connection with a 1 s keepalive, then silence.
        s = raw_connect(self.stack.broker.port, "dave", "dave-pw", "dead-dave", keepalive=1)
        self.assertEqual(self.next_state(w, "dave")["state"], "online")
        t0 = time.monotonic()
        st = self.next_state(w, "dave", timeout=15)
        self.assertEqual(st["state"], "offline")
        # keepalive 1 s * 1.5 + mosquitto's ~5 s check + grace
        self.assertLess(time.monotonic() - t0, 1.5 + 5.5 + GRACE_MS / 1000 + 2)
        s.close()

    def test_away_online_updates_stamped_and_retained(self):
        w = self.watcher()
        e = self.stack.client("erin", "erin-pw", protocol=V5)
        self.next_state(w, "erin")
        e.publish("chat/presence/erin", '{"state":"away","user":"mallory","last_seen":1}')
        st = self.next_state(w, "erin")
        self.assertEqual((st["user"], st["state"]), ("erin", "away"))
        self.assertGreater(st["last_seen"], 1)
        late = self.stack.client("alice", "alice-pw")
        self.assertEqual(late.subscribe("chat/presence/erin"), [1])
        m = late.expect(lambda m: m.topic == "chat/presence/erin")
        self.assertTrue(m.retain)
        self.assertEqual(json.loads(m.payload)["state"], "away")
        for bad in ('{"state":"offline"}', '{"state":"busy"}', "nope", "[]"):
            e.publish("chat/presence/erin", bad)
        e.publish("chat/presence/erin", '{"state":"online"}')
        self.assertEqual(self.next_state(w, "erin")["state"], "online")
        self.assertEqual(self.state_in_redis("erin"), "online")
        e.close()

    def test_others_cannot_write_or_will_presence(self):
        w = self.watcher()
        frank = self.stack.client("frank", "frank-pw")
        self.next_state(w, "frank")
        g = self.stack.client("gina", "gina-pw")
        self.next_state(w, "gina")
        g.publish("chat/presence/frank", '{"state":"offline"}', retain=True)
        # gina's will on frank's topic: refused when she drops
        g2 = raw_connect(self.stack.broker.port, "gina", "gina-pw", "gina-2",
                         will=("chat/presence/frank", '{"state":"offline"}', True))
        g2.close()  # die without DISCONNECT: the will fires
        self.wait_gone("gina-2")
        frank.publish("chat/presence/frank", '{"state":"away"}')
        self.assertEqual(self.next_state(w, "frank")["state"], "away")

    def test_will_cannot_hide_another_device(self):
        w = self.watcher()
        h1 = self.stack.client("hank", "hank-pw")
        self.assertEqual(self.next_state(w, "hank")["state"], "online")
        will = ("chat/presence/hank", '{"state":"offline"}', True)
        h2 = raw_connect(self.stack.broker.port, "hank", "hank-pw", "hank-2", will=will)
        h2.close()
        self.wait_gone("hank-2")
        h1.publish("chat/presence/hank", '{"state":"away"}')
        self.assertEqual(self.next_state(w, "hank")["state"], "away")  # no offline first
        # the last device's will is allowed, and the stamped offline follows
        h3 = raw_connect(self.stack.broker.port, "hank", "hank-pw", "hank-3", will=will)
        self.assertEqual(self.next_state(w, "hank")["state"], "online")  # h3 is online
        h1.close()
        h3.close()
        st = self.next_state(w, "hank")
        while "last_seen" not in st:  # the client's own will, unstamped
            self.assertEqual(st["state"], "offline")
            st = self.next_state(w, "hank")
        self.assertEqual(st["state"], "offline")

    def wait_gone(self, client_id):
        """Wait until the broker has noticed that client_id's connection ended."""
        wait_for(lambda: ("Client %s closed its connection" % client_id) in
                 self.stack.broker.log_text() or
                 ("Client %s disconnected" % client_id) in self.stack.broker.log_text(),
                 what="broker to notice %s is gone" % client_id)

    def test_stranger_sees_nothing(self):
        s = self.stack.client("stranger", "stranger-pw")
        self.assertEqual(s.subscribe("chat/presence/+"), [1])
        self.assertEqual(s.subscribe("chat/presence/ivan"), [1])
        self.assertEqual(s.subscribe("chat/u/stranger/inbox"), [1])
        ivan = self.stack.client("ivan", "ivan-pw")
        ivan.publish("chat/presence/ivan", '{"state":"away"}')
        s.publish("chat/presence/stranger", '{"state":"online"}')
        m = s.expect(lambda m: m.topic == "chat/presence/stranger")  # own is visible
        self.assertEqual(json.loads(m.payload)["user"], "stranger")
        self.assertNotIn("chat/presence/ivan", [x.topic for x in s.skipped])
        s.publish("chat/u/stranger/req", "x")  # barrier
        s.expect(lambda m: m.topic == "chat/u/stranger/inbox")
        self.assertNotIn("chat/presence/ivan", [x.topic for x in s.skipped])

    def test_new_conversation_makes_presence_visible(self):
        self.stack.add_user("kim", "kim-pw")
        self.stack.add_user("lou", "lou-pw")
        kim = Chat(self.stack, "kim", "kim-pw")
        self.assertEqual(kim.c.subscribe("chat/presence/lou"), [1])
        lou = self.stack.client("lou", "lou-pw")
        kim.barrier()
        self.assertNotIn("chat/presence/lou", [m.topic for m in kim.c.skipped])
        kim.direct("lou")
        lou.publish("chat/presence/lou", '{"state":"away"}')
        m = kim.c.expect(lambda m: m.topic == "chat/presence/lou")
        self.assertEqual(json.loads(m.payload)["state"], "away")

    def test_takeover_same_client_id_stays_online(self):
        w = self.watcher()
        j1 = self.stack.client("judy", "judy-pw", client_id="judy-phone")
        self.assertEqual(self.next_state(w, "judy")["state"], "online")
        j2 = self.stack.client("judy", "judy-pw", client_id="judy-phone")  # kicks j1
        wait_for(lambda: j1.disconnected.is_set(), what="takeover")
        j2.publish("chat/presence/judy", '{"state":"away"}')
        self.assertEqual(self.next_state(w, "judy")["state"], "away")  # never offline
        j2.close()
        self.assertEqual(self.next_state(w, "judy")["state"], "offline")

    def test_flapping_within_grace_publishes_nothing(self):
        w = self.watcher()
        b = self.stack.client("bob", "bob-pw")
        self.assertEqual(self.next_state(w, "bob")["state"], "online")
        for _ in range(5):
            b.close()
            b = self.stack.client("bob", "bob-pw")
        b.publish("chat/presence/bob", '{"state":"away"}')
        self.assertEqual(self.next_state(w, "bob")["state"], "away")  # nothing in between
        b.close()
        self.assertEqual(self.next_state(w, "bob")["state"], "offline")


class PresenceRestartTest(unittest.TestCase):
    def test_restart_leaves_no_ghosts(self):
        with Stack(options={"presence_grace_ms": 0, "node_id": "n1"}) as st:
            st.add_user("alice", "a")
            st.add_user("bob", "b")
            a = Chat(st, "alice", "a")
            a.direct("bob")
            st.client("bob", "b")
            wait_for(lambda: PresenceTest.state_in_redis.__func__(
                type("S", (), {"stack": st}), "bob") == "online", what="bob online in redis")
            st.broker.stop(sig=9)  # crash: no disconnect events
            st.broker.start()
            watcher = st.client("alice", "a")
            self.assertEqual(watcher.subscribe("chat/presence/bob"), [1])
            m = watcher.expect(lambda m: m.topic == "chat/presence/bob")
            self.assertEqual(json.loads(m.payload)["state"], "offline")
            self.assertEqual(PresenceTest.state_in_redis.__func__(
                type("S", (), {"stack": st}), "bob"), "offline")


if __name__ == "__main__":
    main()
