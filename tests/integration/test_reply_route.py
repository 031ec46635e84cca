"""Replies (history, sync, errors, ...) reach only the connection that asked
(issue 21.1). A reply is sent by client id; if the asker disconnects while
its request is in Redis and another user connects with the same client id
before the reply is sent, that user must get nothing.

The race is made deterministic with Redis's CLIENT PAUSE: the asker's
history request is held in Redis, the asker disconnects, and the other
user's login is what completes the request (its blocking password read
first reads every reply in flight, in order, once the pause ends):
without the check, the reply is published while that login is being
accepted, and Mosquitto then sends it to whoever holds the client id."""
import json
import socket
import time
import unittest

from harness import (DEFAULT_TIMEOUT, Chat, Stack, connect_packet, main, mqtt_packet, mqtt_str,
                     read_connack, wait_for)

ROUNDS = 12
PAUSE_MS = 250  # below the harness's plugin_opt_redis_timeout_ms (500)


def read_packet(s):
    """(first byte, body) of the next MQTT packet on s, or None at EOF."""
    first = s.recv(1)
    if not first:
        return None
    n, shift = 0, 0
    while True:
        b = s.recv(1)
        if not b:
            return None
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < n:
        part = s.recv(n - len(body))
        if not part:
            return None
        body += part
    return first[0], body


def publishes(s, until):
    """Read packets from s until until(topic, payload) is true for a
    PUBLISH; return every (topic, payload) received before it."""
    seen = []
    while True:
        pkt = read_packet(s)
        if pkt is None:
            raise AssertionError("connection closed; got %r" % seen)
        first, body = pkt
        if first >> 4 != 3:
            continue
        tl = int.from_bytes(body[:2], "big")
        topic = body[2:2 + tl].decode()
        off = 2 + tl + (2 if (first >> 1) & 3 else 0)
        payload = body[off:]
        if (first >> 1) & 3:
            s.sendall(b"\x40\x02" + body[2 + tl:off])  # PUBACK
        if until(topic, payload):
            return seen
        seen.append((topic, payload))


def raw(port, user, password, client_id, clean=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
    pkt = bytearray(connect_packet(user, password, client_id))
    if not clean:
        # connect_packet sets clean session (flags byte 0xC2): clear bit 1.
        idx = pkt.index(b"MQTT") + 5
        pkt[idx] &= ~0x02
    s.sendall(bytes(pkt))
    rc = read_connack(s)
    if rc != 0:
        s.close()
        return None
    return s


def publish_packet(topic, payload, pid=1):
    return mqtt_packet(0x32, mqtt_str(topic) + pid.to_bytes(2, "big") + payload)


class ReplyRouteTest(unittest.TestCase):
    def setUp(self):
        self.st = Stack()
        self.st.__enter__()
        self.addCleanup(self.st.close)
        for u in ("alice", "bob", "mallory"):
            self.st.add_user(u, "pw-" + u)
        alice = Chat(self.st, "alice", "pw-alice")
        bob = Chat(self.st, "bob", "pw-bob")
        self.conv = alice.direct("bob")
        for i in range(5):
            alice.send(self.conv, "m%d" % i, "secret body %d" % i)
        for i in range(5):
            bob.msg(self.conv, "m%d" % i)
        alice.close()
        bob.close()
        # mallory's password is verified once here, so her racing logins
        # are answered from the cache (no argon2id on the broker thread).
        s = raw(self.st.broker.port, "mallory", "pw-mallory", "warm-up")
        s.close()

    def history_req(self, rid):
        return json.dumps({"op": "history", "req": rid, "conv": self.conv}).encode()

    def barrier(self, s, user):
        """Everything user's raw connection s received before the err event
        of a bad request it sends now."""
        s.sendall(publish_packet("chat/u/%s/req" % user, b"not json", pid=77))
        return publishes(s, lambda t, p: t == "chat/u/%s/inbox" % user and
                         json.loads(p).get("t") == "err")

    def test_asker_gets_its_reply(self):
        s = raw(self.st.broker.port, "alice", "pw-alice", "phone-1")
        self.addCleanup(s.close)
        s.sendall(publish_packet("chat/u/alice/req", self.history_req("h1")))
        got = publishes(s, lambda t, p: json.loads(p).get("req") == "h1")
        self.assertEqual(got, [])

    def race(self, clean):
        port = self.st.broker.port
        leaked, raced = [], 0
        for i in range(ROUNDS):
            cid = "shared-%s-%d" % (clean, i)
            a = raw(port, "alice", "pw-alice", cid, clean=clean)
            self.assertIsNotNone(a)
            self.st.redis.call("CLIENT", "PAUSE", PAUSE_MS, "ALL")
            t0 = time.monotonic()
            # The request and the disconnect in one write: the request is in
            # Redis (held by the pause) when the connection ends.
            a.sendall(publish_packet("chat/u/alice/req", self.history_req("h%d" % i)) +
                      b"\xe0\x00")
            wait_for(lambda: read_packet(a) is None, what="alice's connection to end")
            a.close()
            if time.monotonic() - t0 < PAUSE_MS / 1000.0 * 0.8:
                raced += 1  # mallory's login starts while the reply is held
            m = None
            deadline = time.monotonic() + DEFAULT_TIMEOUT
            while m is None and time.monotonic() < deadline:
                m = raw(port, "mallory", "pw-mallory", cid, clean=clean)
            self.assertIsNotNone(m, "mallory could not log in")
            got = self.barrier(m, "mallory")
            m.close()
            leaked += [(t, p) for t, p in got if t == "chat/u/alice/inbox"]
        self.assertEqual(leaked, [], "alice's replies reached mallory")
        self.assertGreater(raced, ROUNDS // 2, "the race window was missed too often")

    def test_takeover_by_another_user_gets_nothing(self):
        self.race(clean=True)

    def test_persistent_session_takeover_gets_nothing(self):
        self.race(clean=False)


if __name__ == "__main__":
    main()
