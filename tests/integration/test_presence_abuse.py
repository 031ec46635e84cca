"""Presence that cannot be forged or flooded (issue 21): wills never reach
watchers as sent (the server's own stamped state goes instead, also for an
MQTT 5 will with a delay, which can never land after the server's state);
leaving or being removed from a group ends presence visibility at once,
also across nodes; presence updates and typing are under the flood limits,
and typing into a conversation the membership cache knows one is not in
costs no Redis call."""
import json
import socket
import time
import unittest

from harness import (DEFAULT_TIMEOUT, Chat, Cluster, Stack, inbox_barrier, main, mqtt_packet,
                     mqtt_str, raw_connect)

GRACE_MS = 300
SERVER_FIELDS = {"user", "state", "last_seen", "ts"}


def raw_connect_v5(port, user, password, client_id, will, will_delay, session_expiry):
    """A bare MQTT 5 connection with a QoS 1 retained will sent will_delay
    seconds after the connection dies (session kept session_expiry s)."""
    flags = 0xC2 | 0x04 | (1 << 3) | 0x20
    props = bytes([0x11]) + session_expiry.to_bytes(4, "big")
    wprops = bytes([0x18]) + will_delay.to_bytes(4, "big")
    payload = (mqtt_str(client_id) + bytes([len(wprops)]) + wprops + mqtt_str(will[0]) +
               mqtt_str(will[1]) + mqtt_str(user) + mqtt_str(password))
    body = (mqtt_str("MQTT") + bytes([5, flags]) + (30).to_bytes(2, "big") +
            bytes([len(props)]) + props + payload)
    s = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
    s.sendall(mqtt_packet(0x10, body))
    head = s.recv(2)
    rest = b""
    while len(rest) < head[1]:
        rest += s.recv(head[1] - len(rest))
    if head[0] != 0x20 or rest[1] != 0:
        s.close()
        raise AssertionError("v5 connect refused: %r" % (head + rest))
    return s


class WillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": GRACE_MS,
                                   "other_topics": "probe/#"}).__enter__()
        for u in ("alice", "ivan", "kate", "probe"):
            cls.stack.add_user(u, u + "-pw")
        a = Chat(cls.stack, "alice", "alice-pw")
        a.group("g", ["ivan", "kate"])
        a.close()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def watcher(self, topic="chat/presence/+"):
        w = self.stack.client("alice", "alice-pw")
        self.assertEqual(w.subscribe(topic), [1])
        return w

    def live(self, w, user):
        m = w.expect(lambda m: m.topic == "chat/presence/" + user and not m.retain,
                     what="presence of " + user)
        return json.loads(m.payload)

    def assert_server_state(self, st, user, state):
        self.assertEqual(set(st), SERVER_FIELDS, st)
        self.assertEqual((st["user"], st["state"]), (user, state))
        now = time.time() * 1000
        self.assertLess(abs(st["ts"] - now), 10000, st)
        self.assertLess(abs(st["last_seen"] - now), 10000, st)

    def test_will_never_goes_out_as_sent(self):
        w = self.watcher()
        forged = ('{"state":"offline","user":"mallory","last_seen":1,'
                  '"ts":99999999999999,"x":"<img src=x onerror=alert(1)>"}')
        s = raw_connect(self.stack.broker.port, "ivan", "ivan-pw", "ivan-1",
                        will=("chat/presence/ivan", forged, True))
        self.assert_server_state(self.live(w, "ivan"), "ivan", "online")
        s.close()  # dies without DISCONNECT: the will fires
        self.assert_server_state(self.live(w, "ivan"), "ivan", "offline")
        late = self.watcher("chat/presence/ivan")
        m = late.expect(lambda m: m.topic == "chat/presence/ivan", what="retained ivan")
        self.assert_server_state(json.loads(m.payload), "ivan", "offline")
        self.assertEqual([x for x in w.drain() if x.topic == "chat/presence/ivan"], [])

    def test_delayed_will_never_lands_after_the_server_state(self):
        w = self.watcher()
        self.assertEqual(w.subscribe("probe/#"), [1])
        s = raw_connect_v5(self.stack.broker.port, "kate", "kate-pw", "kate-1",
                           ("chat/presence/kate", '{"state":"offline","x":1}'), 2, 30)
        self.assertEqual(self.live(w, "kate")["state"], "online")
        # A probe whose will fires after kate's (same delay, dropped later).
        p = raw_connect_v5(self.stack.broker.port, "probe", "probe-pw", "probe-1",
                           ("probe/done", "x"), 2, 30)
        s.close()
        self.assert_server_state(self.live(w, "kate"), "kate", "offline")  # after grace
        p.close()
        w.expect(lambda m: m.topic == "probe/done", timeout=DEFAULT_TIMEOUT,
                 what="the probe's delayed will")
        later = [json.loads(x.payload) for x in w.skipped + w.drain()
                 if x.topic == "chat/presence/kate"]
        self.assertEqual(later, [])
        late = self.watcher("chat/presence/kate")
        m = late.expect(lambda m: m.topic == "chat/presence/kate", what="retained kate")
        self.assert_server_state(json.loads(m.payload), "kate", "offline")


class VisibilityTest(unittest.TestCase):
    """Leaving or being removed ends presence visibility at once."""

    def watch(self, stack, user, of):
        """A plain device of user subscribed to its inbox and of's presence."""
        w = stack.client(user, user + "-pw")
        self.assertEqual(w.subscribe("chat/u/%s/inbox" % user), [1])
        self.assertEqual(w.subscribe("chat/presence/" + of), [1])
        return w

    def live(self, w, user, state):
        m = w.expect(lambda m: m.topic == "chat/presence/" + user and not m.retain and
                     json.loads(m.payload)["state"] == state, what="%s %s" % (user, state))
        return json.loads(m.payload)

    def test_leave_and_remove_end_visibility(self):
        with Stack(options={"presence_grace_ms": GRACE_MS}) as st:
            for u in ("alice", "bob", "carol", "dave", "erin"):
                st.add_user(u, u + "-pw")
            e = Chat(st, "erin", "erin-pw")  # the witness: shares a group with each x
            e.group("xs", ["alice", "carol"])
            for op, x, y in (("leave", "alice", "bob"), ("remove", "carol", "dave")):
                a, b = Chat(st, x, x + "-pw"), Chat(st, y, y + "-pw")
                conv = a.group("g-" + op, [y])
                b.event(lambda e: e.get("t") == "member" and e.get("conv") == conv)
                bw, own = self.watch(st, y, x), self.watch(st, "erin", x)
                a.c.publish("chat/presence/" + x, '{"state":"away"}')
                self.live(bw, x, "away")
                if op == "leave":
                    b.ok("leave", conv=conv)
                else:
                    a.ok("remove", conv=conv, members=[y])
                b.event(lambda e: e.get("t") == "member" and e.get("op") in ("left", "removed"))
                a.c.publish("chat/presence/" + x, '{"state":"online"}')
                self.live(own, x, "online")  # went out
                seen = [m.payload for m in inbox_barrier(bw, y)
                        if m.topic == "chat/presence/" + x]
                self.assertEqual(seen, [], op)

    def test_removal_on_one_node_hides_on_another(self):
        with Cluster(2, {"presence_grace_ms": 0}) as cl:
            for u in ("alice", "bob", "carol"):
                cl.add_user(u, u + "-pw")
            alice = Chat(cl.node(0), "alice", "alice-pw")
            alice.group("keep", ["carol"])  # carol keeps sharing a group with alice
            conv = alice.group("g", ["bob"])
            bw = self.watch(cl.node(1), "bob", "alice")
            cw = self.watch(cl.node(1), "carol", "alice")
            alice.c.publish("chat/presence/alice", '{"state":"away"}')
            self.live(bw, "alice", "away")
            self.live(cw, "alice", "away")
            alice.ok("remove", conv=conv, members=["bob"])
            bw.expect(lambda m: m.topic == "chat/u/bob/inbox" and
                      json.loads(m.payload).get("op") == "removed", what="removal")
            alice.c.publish("chat/presence/alice", '{"state":"online"}')
            self.live(cw, "alice", "online")  # n2 got it (same node as bob's device)
            seen = [m.payload for m in inbox_barrier(bw, "bob")
                    if m.topic == "chat/presence/alice"]
            self.assertEqual(seen, [])


class FloodTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": 0, "rate_reqs": 20}).__enter__()
        for u in ("alice", "bob", "ann", "ben", "mallory"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def fcalls(self):
        info = self.stack.redis.call("INFO", "commandstats").decode()
        for line in info.splitlines():
            if line.startswith("cmdstat_fcall:"):
                return int(line.split("calls=")[1].split(",")[0])
        return 0

    def test_presence_burst_is_limited(self):
        a = Chat(self.stack, "alice", "alice-pw")
        a.direct("bob")
        w = self.stack.client("bob", "bob-pw")
        self.assertEqual(w.subscribe("chat/u/bob/inbox"), [1])
        self.assertEqual(w.subscribe("chat/presence/alice"), [1])
        w.expect(lambda m: m.topic == "chat/presence/alice", what="retained alice")
        for i in range(400):
            a.c.publish("chat/presence/alice",
                        '{"state":"%s"}' % ("away" if i % 2 else "online"), qos=0)
        a.err(code="rate_limited")
        a.barrier()  # every one of the 400 was handled
        got = [m for m in inbox_barrier(w, "bob") if m.topic == "chat/presence/alice"]
        self.assertGreaterEqual(len(got), 1)
        self.assertLessEqual(len(got), 3 * 20)  # a few 1 s windows' worth, not 400

    def test_typing_is_limited_and_non_members_cost_nothing(self):
        a, b = Chat(self.stack, "ann", "ann-pw"), Chat(self.stack, "ben", "ben-pw")
        m = Chat(self.stack, "mallory", "mallory-pw")
        conv = a.direct("ben")
        a.send(conv, "hello", "hi")  # the broker caches conv's members
        b.msg(conv, "hello")
        m.barrier()
        before = self.fcalls()
        for _ in range(3):
            m.c.publish("chat/c/%s/typing" % conv, '{"state":"composing"}')
        for _ in range(3):
            self.assertEqual(m.err()["code"], "not_member")
        self.assertEqual(self.fcalls(), before)  # answered from the cache
        # 300 conversations nobody knows: at most the requests' limit reaches Redis.
        before = self.fcalls()
        for i in range(300):
            m.c.publish("chat/c/nowhere-%d/typing" % i, '{"state":"composing"}', qos=0)
        codes = [m.err()["code"] for _ in range(300)]
        self.assertIn("rate_limited", codes)
        self.assertLessEqual(codes.count("not_member"), 3 * 20)
        self.assertLessEqual(self.fcalls() - before, 3 * 20)


if __name__ == "__main__":
    main()
