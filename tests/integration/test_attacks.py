"""The attack list: what a hostile signed-in client may try, each case refused
with nothing changed. Every case asserts the refusal (err event code, SUBACK
failure, or no delivery) and that nothing changed (a DUMP of every Redis key
but presence/node heartbeats, taken before and compared after, and what other
users' devices received). The number of cases is printed at the end.

Users: alice (admin of the groups), bob and carol (members), mallory (the
attacker, a valid user sharing no conversation with them unless stated)."""
import json
import unittest

from harness import (DEFAULT_TIMEOUT, V311, V5, Chat, Stack, inbox_barrier, main,
                     mqtt_packet, mqtt_str, raw_connect, wait_for)

REFUSED = {V311: 0x80, V5: 0x87}
MAX_BYTES = 1 << 20  # large enough that a 64k-member create reaches the member check
CASES = []


def case(name):
    CASES.append(name)


class AttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack(options={"max_message_bytes": MAX_BYTES, "rate_msgs": 0,
                                "rate_bytes": 0, "rate_reqs": 0,
                                "presence_grace_ms": 0}).__enter__()
        for u in ("alice", "bob", "carol", "mallory"):
            cls.st.add_user(u, u + "-pw")
        cls.alice = Chat(cls.st, "alice", "alice-pw")
        cls.bob = Chat(cls.st, "bob", "bob-pw")
        cls.carol = Chat(cls.st, "carol", "carol-pw")
        cls.mallory = Chat(cls.st, "mallory", "mallory-pw")
        cls.group = cls.alice.group("team", ["bob", "carol"])
        cls.direct = cls.alice.direct("bob")
        for c in (cls.alice, cls.bob, cls.carol):
            c.event(lambda e: e.get("t") == "member" and e.get("conv") == cls.group)

    @classmethod
    def tearDownClass(cls):
        print("\nattack cases: %d" % len(CASES))
        cls.st.__exit__(None, None, None)

    def setUp(self):
        # every test starts with nothing pending on the four users' devices
        for c in (self.alice, self.bob, self.carol, self.mallory):
            c.barrier()

    # -- helpers ---------------------------------------------------------

    def snap(self):
        return self.st.redis.snapshot()

    def assertUnchanged(self, before, what):
        after = self.snap()
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        self.assertEqual(changed, [], "Redis changed by %s" % what)

    def quiet(self, *chats):
        """Nothing but replies reached these devices (barrier per device)."""
        for c in chats:
            got = [e for e in c.barrier() if e.get("t") != "res"]
            self.assertEqual(got, [], "%s received something" % c.user)

    def log_ids(self, conv):
        items = self.alice.ok("history", conv=conv, limit=200)["items"]
        return [(e["seq"], e.get("id"), e.get("body")) for e in items]

    def raw_publish(self, sock, topic, payload, qos=0):
        """A PUBLISH frame on a raw socket (MQTT 3.1.1)."""
        sock.sendall(mqtt_packet(0x30 | (qos << 1), mqtt_str(topic) +
                                 (b"\x00\x01" if qos else b"") + payload))

    # -- subscribing to others' inboxes ----------------------------------

    def test_subscribe_to_other_inboxes_every_shape(self):
        shapes = ["chat/u/+/inbox", "chat/u/#", "chat/#", "#", "+/#", "+/u/bob/inbox",
                  "chat/+/bob/inbox", "+/+/bob/inbox", "+/+/+/+", "+/+/+/inbox",
                  "chat/u/+/+", "chat/u/+/#", "chat/+/#", "chat/+/+/+", "chat/u/bob/inbox",
                  "chat/u/bob/+", "chat/u/bob/#", "chat/u/bob/inbox/#", "chat/u/bob/inbox/+",
                  "$share/g/chat/u/bob/inbox", "$share/g/chat/u/+/inbox", "$share/g/#",
                  "$share/g/chat/#", "$share/g/+/u/bob/inbox", "$share/g/chat/u/bob/#",
                  "$share/mallory/chat/u/bob/inbox", "chat/u/bob/req", "chat/u/+/req"]
        spies = []
        for proto in (V311, V5):
            spy = self.st.client("mallory", "mallory-pw", protocol=proto)
            for f in shapes:
                self.assertEqual(spy.subscribe(f), [REFUSED[proto]], "%s (v%s)" % (f, proto))
                case("subscribe %s (MQTT %s)" % (f, "5" if proto == V5 else "3.1.1"))
            spies.append(spy)
        for spy in spies:
            self.assertEqual(spy.subscribe("chat/u/mallory/inbox"), [1])
        self.alice.send(self.direct, "sub-probe", "for bob only")
        self.bob.msg(self.direct, "sub-probe")
        self.alice.send(self.group, "sub-probe-2", "for the team only")
        self.carol.msg(self.group, "sub-probe-2")
        # Delivery order per client: once a spy's own err arrives, anything
        # routed to it earlier has arrived too. Nothing under chat/u/ reached it.
        for spy in spies:
            self.assertEqual([m.topic for m in inbox_barrier(spy, "mallory")], [])
            spy.close()

    # -- publishing into inboxes and others' request topics --------------

    def test_publish_into_inboxes_and_foreign_req(self):
        before = self.snap()
        fake = json.dumps({"t": "msg", "conv": self.direct, "seq": 99, "id": "x",
                           "from": "alice", "ts": 1, "body": "fake"})
        attacks = [(self.mallory, "chat/u/bob/inbox", False, 0),
                   (self.mallory, "chat/u/bob/inbox", False, 1),
                   (self.mallory, "chat/u/bob/inbox", True, 1),
                   (self.bob, "chat/u/bob/inbox", False, 1),      # own inbox
                   (self.bob, "chat/u/bob/inbox", True, 1),
                   (self.mallory, "chat/u/bob/req", False, 1)]     # act as bob
        for who, topic, retain, qos in attacks:
            payload = fake if topic.endswith("inbox") else json.dumps(
                {"op": "leave", "req": "steal", "conv": self.group})
            who.c.publish(topic, payload, qos=qos, retain=retain)
            case("%s publishes %s (qos %d%s)" % (who.user, topic, qos,
                                                 ", retained" if retain else ""))
        v5 = self.st.client("mallory", "mallory-pw", protocol=V5)
        v5.publish("chat/u/bob/inbox", fake)
        case("mallory publishes chat/u/bob/inbox (MQTT 5)")
        self.quiet(self.bob, self.mallory)
        late = Chat(self.st, "bob", "bob-pw")    # no retained spoof on the inbox
        self.quiet(late)
        late.close()
        self.assertUnchanged(before, "publishes into inboxes")
        members = self.st.redis.call("HGETALL", "mqchat:{c:%s}:members" % self.group)
        self.assertIn(b"bob", members[::2])

    # -- spoofed server fields --------------------------------------------

    def test_spoofed_from_seq_ts_in_send(self):
        last = self.log_ids(self.group)[-1][0]
        spoof = {"id": "spoof-1", "body": "hi", "from": "alice", "seq": 1, "ts": 1,
                 "t": "member", "conv": self.direct, "user": "alice", "op": "added"}
        self.bob.c.publish("chat/c/%s/send" % self.group, json.dumps(spoof))
        case("send with spoofed from/seq/ts/t/conv")
        mine = self.bob.msg(self.group, "spoof-1")
        theirs = self.alice.msg(self.group, "spoof-1")
        for e in (mine, theirs):
            self.assertEqual(e["from"], "bob")
            self.assertEqual(e["seq"], last + 1)
            self.assertEqual(e["t"], "msg")
            self.assertEqual(e["conv"], self.group)
            self.assertGreater(e["ts"], 1_600_000_000_000)
            self.assertNotIn("user", e)
            self.assertNotIn("op", e)
        self.assertEqual(mine, theirs)
        stored = self.alice.ok("history", conv=self.group, limit=1)["items"][0]
        self.assertEqual((stored["from"], stored["seq"], stored["ts"]),
                         ("bob", last + 1, mine["ts"]))
        # a receipt naming someone else is still the sender's own receipt
        self.carol.msg(self.group, "spoof-1")
        bob_read = self.st.redis.call("HGET", "mqchat:{c:%s}:rcpt" % self.group, "r:bob")
        self.carol.c.publish("chat/c/%s/receipt" % self.group,
                             json.dumps({"type": "read", "seq": last + 1, "user": "bob",
                                         "ts": 1}))
        case("receipt with spoofed user/ts")
        r = self.alice.event(lambda e: e.get("t") == "receipt" and e.get("seq") == last + 1)
        self.assertEqual(r["user"], "carol")
        self.assertGreater(r["ts"], 1_600_000_000_000)
        self.assertEqual(self.st.redis.call("HGET", "mqchat:{c:%s}:rcpt" % self.group,
                                            "r:carol"), str(last + 1).encode())
        self.assertEqual(self.st.redis.call("HGET", "mqchat:{c:%s}:rcpt" % self.group,
                                            "r:bob"), bob_read)

    # -- removed members and self-promotion ------------------------------

    def test_removed_member_and_self_add(self):
        dave_pw = self.st.add_user("dave", "dave-pw")
        dave = Chat(self.st, "dave", dave_pw)
        g = self.alice.group("removal", ["bob", "dave"])
        self.alice.ok("remove", conv=g, members=["dave"])
        dave.event(lambda e: e.get("t") == "member" and e.get("op") == "removed")
        self.bob.event(lambda e: e.get("t") == "member" and e.get("op") == "removed")
        self.bob.barrier()
        self.alice.barrier()
        before = self.snap()
        dave.send(g, "after-removal", "am I still here?")
        self.assertEqual(dave.err(id="after-removal")["code"], "not_member")
        case("send after removal")
        dave.publish_raw("chat/c/%s/receipt" % g, json.dumps({"type": "read", "seq": 1}))
        self.assertEqual(dave.err()["code"], "not_member")
        case("receipt after removal")
        dave.publish_raw("chat/c/%s/typing" % g, json.dumps({"state": "composing"}))
        self.assertEqual(dave.err()["code"], "not_member")
        case("typing after removal")
        self.assertEqual(dave.req("history", conv=g)["code"], "not_member")
        case("history after removal")
        self.assertEqual(dave.req("add", conv=g, members=["dave"])["code"], "not_member")
        case("removed member adds self back")
        self.assertEqual(dave.req("mute", conv=g, until=0)["code"], "not_member")
        case("mute after removal")
        self.assertEqual(self.mallory.req("add", conv=g, members=["mallory"])["code"],
                         "not_member")
        case("stranger adds self to a group")
        self.assertEqual(self.mallory.req("leave", conv=g)["code"], "not_member")
        case("stranger leaves a group")
        self.assertEqual(self.bob.req("add", conv=g, members=["mallory"])["code"], "forbidden")
        case("plain member adds someone")
        self.assertEqual(self.bob.req("remove", conv=g, members=["alice"])["code"], "forbidden")
        case("plain member removes the admin")
        self.assertEqual(self.mallory.req("add", conv=self.direct,
                                          members=["mallory"])["code"], "not_member")
        case("stranger adds self to a direct conversation")
        self.assertEqual(self.bob.req("add", conv=self.direct, members=["mallory"])["code"],
                         "forbidden")
        case("member adds someone to a direct conversation")
        self.assertUnchanged(before, "a removed member and self-adds")
        self.quiet(self.bob, self.alice)
        dave.close()

    # -- presence forgery -------------------------------------------------

    def presence_of(self, user):
        return self.st.redis.call("HGETALL", "mqchat:{u:%s}:presence" % user)

    def test_forge_presence(self):
        watcher = self.st.client("bob", "bob-pw")
        self.assertEqual(watcher.subscribe("chat/presence/alice"), [1])
        m = watcher.expect(lambda m: m.topic == "chat/presence/alice", what="alice's state")
        self.assertEqual(json.loads(m.payload)["state"], "online")
        state = self.presence_of("alice")
        forged = [('{"state":"offline"}', True), ('{"state":"away"}', False),
                  (json.dumps({"user": "alice", "state": "offline", "last_seen": 1, "ts": 1}),
                   True), ("", True)]
        for payload, retain in forged:
            self.mallory.c.publish("chat/presence/alice", payload, retain=retain)
            case("forge presence %r%s" % (payload[:30], " retained" if retain else ""))
        v5 = self.st.client("mallory", "mallory-pw", protocol=V5)
        v5.publish("chat/presence/alice", '{"state":"offline"}', retain=True)
        case("forge presence (MQTT 5)")
        # a will on another user's presence topic, then a dead socket
        try:
            s = raw_connect(self.st.broker.port, "mallory", "mallory-pw", "mallory-will",
                            will=("chat/presence/alice", '{"state":"offline"}', True))
        except AssertionError:
            s = None  # refused at CONNECT: refused either way
        if s:
            s.close()
            wait_for(lambda: any("mallory-will" in l and ("closed" in l or "rror" in l or
                                                          "isconnect" in l)
                                 for l in self.st.broker.log_text().splitlines()),
                     what="mallory's will connection to be dropped")
        case("will on another user's presence topic")
        # alice herself may not claim "offline" or clear her retained state
        self.alice.c.publish("chat/presence/alice", '{"state":"offline"}', retain=True)
        self.assertEqual(self.alice.err()["code"], "bad_request")
        case("own presence: offline claimed by a live device")
        self.alice.c.publish("chat/presence/alice", b"", retain=True)
        self.assertEqual(self.alice.err()["code"], "bad_request")
        case("own presence: empty retained (clearing the state)")
        self.quiet(self.mallory)
        self.assertEqual(watcher.subscribe("chat/u/bob/inbox"), [1])
        self.assertEqual([(m.topic, m.payload) for m in inbox_barrier(watcher, "bob")], [])
        self.assertEqual(self.presence_of("alice"), state)
        late = self.st.client("carol", "carol-pw")
        self.assertEqual(late.subscribe("chat/presence/alice"), [1])
        m = late.expect(lambda m: m.topic == "chat/presence/alice", what="retained state")
        self.assertEqual(json.loads(m.payload)["state"], "online")
        self.assertTrue(m.retain)
        late.close()
        watcher.close()
        v5.close()

    # -- push tokens ------------------------------------------------------

    def devices(self, user):
        return self.st.redis.call("HGETALL", "mqchat:{u:%s}:devices" % user)[::2]

    def test_device_token_moves_never_duplicates(self):
        stolen, kept = "aa" * 32, "bb" * 32
        self.alice.ok("device", platform="apns", token=stolen, app="com.example.chat")
        self.alice.ok("device", platform="fcm", token=kept, app="proj")
        # mallory registers alice's token: it moves (a token belongs to one user)
        self.mallory.ok("device", platform="apns", token=stolen, app="com.example.chat")
        case("register another user's device token")
        self.assertEqual(self.devices("alice"), [kept.encode()])
        self.assertEqual(self.devices("mallory"), [stolen.encode()])
        self.assertEqual(self.st.redis.call("GET", "mqchat:devtoken:" + stolen), b"mallory")
        # unregistering a token one does not own changes nothing
        before = self.snap()
        self.mallory.req("undevice", token=kept)
        case("unregister another user's device token")
        self.assertUnchanged(before, "undevice of a foreign token")
        self.assertEqual(self.devices("alice"), [kept.encode()])
        for bad in ("x" * 4097, "a b", "tok/../x", "", "t\u00e9"):
            before = self.snap()
            r = self.mallory.req("device", platform="apns", token=bad, app="a")
            self.assertEqual(r.get("code"), "bad_request", repr(bad))
            case("device token %r" % bad[:12])
            self.assertUnchanged(before, "a bad device token")
        self.bad_req(self.mallory, json.dumps({"op": "device", "req": "d", "platform": "apns",
                                               "token": "tok\u0000x", "app": "a"}),
                     "bad_request", "device token with a NUL")
        before = self.snap()
        r = self.mallory.req("device", platform="webpush", token="cc" * 8, app="a")
        self.assertEqual(r.get("code"), "bad_request")
        case("device with an unknown platform")
        self.assertUnchanged(before, "a bad platform")

    # -- malformed payloads -----------------------------------------------

    def bad_post(self, who, conv, payload, code, name, leaf="send"):
        before = self.snap()
        who.publish_raw("chat/c/%s/%s" % (conv, leaf), payload)
        e = who.err()
        self.assertEqual(e["code"], code, name)
        case(name)
        self.assertUnchanged(before, name)
        return e

    def bad_req(self, who, payload, code, name):
        before = self.snap()
        who.publish_raw("chat/u/%s/req" % who.user, payload)
        self.assertEqual(who.err()["code"], code, name)
        case(name)
        self.assertUnchanged(before, name)

    def test_oversize_and_deeply_nested(self):
        big = json.dumps({"id": "big", "body": "x" * MAX_BYTES})
        self.bad_post(self.bob, self.group, big, "too_large", "oversize send")
        self.bad_req(self.bob, json.dumps({"op": "convs", "req": "big",
                                           "pad": "y" * MAX_BYTES}),
                     "too_large", "oversize request")
        self.bad_post(self.bob, self.group, json.dumps({"type": "read", "seq": 1,
                                                        "pad": "z" * MAX_BYTES}),
                      "too_large", "oversize receipt", leaf="receipt")
        for depth in (1001, 5000, 100000):
            attrs = "[" * depth + "]" * depth
            self.bad_post(self.bob, self.group,
                          '{"id":"deep%d","body":"x","attrs":{"a":%s}}' % (depth, attrs),
                          "bad_request", "send nested %d deep" % depth)
            objs = '{"a":' * depth + "1" + "}" * depth
            self.bad_req(self.bob, '{"op":"convs","req":"deep","x":%s}' % objs,
                         "bad_request", "request nested %d deep" % depth)
        self.bad_post(self.bob, self.group, "[" * 60000, "bad_request",
                      "unterminated nesting")
        self.quiet(self.alice, self.carol)

    def test_invalid_utf8_and_nul(self):
        g = self.group
        for raw, name in [(b"\xff", "0xff byte"), (b"\xc0\xaf", "overlong"),
                          (b"\xed\xa0\x80", "UTF-16 surrogate"), (b"\xe2\x82", "truncated"),
                          (b"\xf4\x90\x80\x80", "beyond U+10FFFF")]:
            self.bad_post(self.bob, g, b'{"id":"u8","body":"a' + raw + b'"}', "bad_request",
                          "invalid UTF-8 in body: " + name)
            self.bad_post(self.bob, g, b'{"id":"u8' + raw + b'","body":"a"}', "bad_request",
                          "invalid UTF-8 in id: " + name)
            self.bad_req(self.bob, b'{"op":"create","req":"q","kind":"direct","with":"a' +
                         raw + b'"}', "bad_request", "invalid UTF-8 in a request: " + name)
        self.bad_post(self.bob, g, '{"id":"lone","body":"\\ud800"}', "bad_request",
                      "lone surrogate escape")
        self.bad_post(self.bob, g, b'{"id":"nul\x00x","body":"a"}', "bad_request",
                      "raw NUL in id")
        self.bad_post(self.bob, g, '{"id":"nul\\u0000x","body":"a"}', "bad_request",
                      "escaped NUL in id")
        self.bad_post(self.bob, g, '{"id":"nul","body":"a\\u0000b"}', "bad_request",
                      "escaped NUL in body")
        self.bad_req(self.bob, '{"op":"create","req":"n","kind":"direct","with":"alice\\u0000x"}',
                     "bad_request", "escaped NUL in a user id")
        self.bad_req(self.bob, '{"op":"history","req":"n","conv":"%s\\u0000x"}' % g,
                     "bad_request", "escaped NUL in a conversation id")
        self.bad_req(self.bob, '{"op":"add","req":"n","conv":"%s","members":["a\\u0000"]}' % g,
                     "bad_request", "escaped NUL in a member id")
        for name, payload in [("not JSON", b"hello"), ("JSON array", b"[1]"),
                              ("trailing garbage", b'{"id":"t","body":"a"}x'),
                              ("blank", b" "), ("empty", b""), ("id too long", json.dumps(
                                  {"id": "i" * 65, "body": "a"}).encode()),
                              ("body not a string", b'{"id":"b","body":{"x":1}}')]:
            self.bad_post(self.bob, g, payload, "bad_request", "send: " + name)
        self.bad_req(self.bob, json.dumps({"op": "create", "req": "b", "kind": "direct",
                                           "with": "al/ice"}), "bad_request",
                     "user id with a slash")
        self.bad_req(self.bob, json.dumps({"op": "history", "req": "b", "conv": "+"}),
                     "bad_request", "conversation id '+'")
        # a NUL byte in a topic name breaks MQTT itself: the connection is
        # dropped, nothing is stored, the broker lives on
        before = self.snap()
        s = raw_connect(self.st.broker.port, "bob", "bob-pw", "bob-nul-topic")
        self.raw_publish(s, b"chat/c/" + g.encode() + b"\x00/send", b'{"id":"n","body":"a"}')
        s.settimeout(DEFAULT_TIMEOUT)
        try:
            self.assertEqual(s.recv(16), b"")
        except ConnectionResetError:
            pass
        s.close()
        case("NUL byte in a topic name")
        self.assertUnchanged(before, "NUL in a topic name")
        self.quiet(self.alice, self.carol)
        self.assertTrue(self.st.broker.alive())

    def test_64k_member_group(self):
        before = self.snap()
        members = ["u%05d" % i for i in range(65536)]
        r = self.mallory.req("create", kind="group", title="huge", members=members,
                             timeout=DEFAULT_TIMEOUT * 3)
        self.assertEqual(r.get("code"), "bad_request")
        self.assertIn("too many", r.get("msg", ""))
        case("64k-member group create")
        r = self.mallory.req("create", kind="group", title="huge", members=["bob"] * 65536,
                             timeout=DEFAULT_TIMEOUT * 3)
        self.assertEqual(r.get("code"), "bad_request")
        case("64k copies of one member")
        r = self.alice.req("add", conv=self.group, members=members,
                           timeout=DEFAULT_TIMEOUT * 3)
        self.assertEqual(r.get("code"), "bad_request")
        case("64k-member add")
        self.assertUnchanged(before, "64k-member requests")
        self.assertEqual(self.mallory.ok("convs")["items"], [])

    # -- replays ---------------------------------------------------------------

    def test_replayed_requests_and_sends(self):
        g = self.alice.group("replay", ["bob"])
        self.bob.event(lambda e: e.get("conv") == g and e.get("t") == "member")
        add = json.dumps({"op": "add", "req": "old-1", "conv": g, "members": ["carol"]})
        self.alice.publish_raw("chat/u/alice/req", add)
        self.alice.event(lambda e: e.get("req") == "old-1" and e["t"] == "res")
        self.carol.event(lambda e: e.get("conv") == g and e.get("op") == "added")
        self.alice.barrier()
        self.bob.barrier()
        self.carol.barrier()
        before = self.snap()
        # the same request again, same req id: carol is in already, no event
        self.alice.publish_raw("chat/u/alice/req", add)
        r = self.alice.event(lambda e: e.get("req") == "old-1")
        self.assertEqual(r["t"], "res")
        case("replayed add (old req id)")
        d = json.dumps({"op": "create", "req": "old-2", "kind": "direct", "with": "bob"})
        for _ in range(2):
            self.alice.publish_raw("chat/u/alice/req", d)
            self.assertEqual(self.alice.event(lambda e: e.get("req") == "old-2")["conv"],
                             self.direct)
        case("replayed direct create")
        self.assertUnchanged(before, "replayed idempotent requests")
        self.quiet(self.bob, self.carol)
        # privileges are checked when a request runs, not when its id was first
        # seen: bob replays an admin-only request that alice made, on his topic
        self.bob.publish_raw("chat/u/bob/req", json.dumps(
            {"op": "remove", "req": "old-1", "conv": g, "members": ["carol"]}))
        self.assertEqual(self.bob.err(req="old-1")["code"], "forbidden")
        case("replay of another user's req id")
        self.assertEqual([e for e in self.alice.barrier() if e.get("req") == "old-1"], [])
        # carol leaves; replaying her leave is not_member, no second event
        leave = json.dumps({"op": "leave", "req": "old-3", "conv": g})
        self.carol.publish_raw("chat/u/carol/req", leave)
        self.carol.event(lambda e: e.get("req") == "old-3" and e["t"] == "res")
        self.alice.event(lambda e: e.get("conv") == g and e.get("op") == "left")
        self.bob.event(lambda e: e.get("conv") == g and e.get("op") == "left")
        before = self.snap()
        self.carol.publish_raw("chat/u/carol/req", leave)
        self.assertEqual(self.carol.err(req="old-3")["code"], "not_member")
        case("replayed leave")
        self.assertUnchanged(before, "a replayed leave")
        self.quiet(self.alice, self.bob)
        # a replayed send with a changed body: the original stands
        self.bob.send(g, "once", "original")
        first = self.bob.msg(g, "once")
        self.alice.msg(g, "once")
        before = self.snap()
        self.bob.send(g, "once", "altered")
        again = self.bob.msg(g, "once")
        self.assertEqual(again, first)
        case("replayed send id with another body")
        self.assertUnchanged(before, "a replayed send")
        self.quiet(self.alice)

    # -- retained junk -----------------------------------------------------

    def test_retained_junk_under_chat(self):
        before = self.snap()
        junk = [(self.mallory, "chat/junk"), (self.mallory, "chat"),
                (self.mallory, "chat/u/mallory"), (self.mallory, "chat/u/mallory/inbox"),
                (self.mallory, "chat/u/mallory/req"), (self.mallory, "chat/u/bob/inbox"),
                (self.mallory, "chat/presence/bob"), (self.mallory, "chat/c/x/send"),
                (self.bob, "chat/c/%s/send" % self.group),
                (self.bob, "chat/c/%s/receipt" % self.group),
                (self.bob, "chat/c/%s/typing" % self.group),
                (self.bob, "chat/u/bob/req"), (self.mallory, "chat/presence/mallory/x")]
        for who, topic in junk:
            if topic.endswith("/send"):
                payload = json.dumps({"id": "ret", "body": "retained"})
            elif topic.endswith("/receipt"):
                payload = json.dumps({"type": "read", "seq": 1})
            elif topic.endswith("/typing"):
                payload = json.dumps({"state": "composing"})
            elif topic.endswith("/req"):
                payload = json.dumps({"op": "leave", "req": "ret", "conv": self.group})
            else:
                payload = json.dumps({"t": "msg", "body": "junk"})
            who.c.publish(topic, payload, retain=True)
            case("retained publish on " + topic.replace(self.group, "{conv}"))
        self.quiet(self.alice, self.bob, self.carol, self.mallory)
        self.assertUnchanged(before, "retained junk")
        for user in ("bob", "mallory"):
            late = self.st.client(user, user + "-pw")
            for f in ("chat/u/%s/inbox" % user, "chat/presence/+"):
                self.assertEqual(late.subscribe(f), [1])
            got = [(m.topic, m.payload) for m in inbox_barrier(late, user)]
            junk_seen = [t for t, p in got if b"junk" in p or b"retained" in p or
                         not t.startswith("chat/presence/")]
            self.assertEqual(junk_seen, [], user)
            for t, p in got:  # only the server's own presence states
                self.assertEqual(set(json.loads(p)), {"user", "state", "last_seen", "ts"})
            late.close()

    # -- sessions, tokens, cursors, other users' conversations ---------------

    def test_session_hijack_by_client_id(self):
        """Taking over another user's persistent session (same client id)
        inherits its subscription, but every delivery is READ-checked for
        the new owner: nothing of bob's reaches mallory, queued or live."""
        phone = self.st.client("bob", "bob-pw", client_id="bob-phone", clean=False)
        self.assertEqual(phone.subscribe("chat/u/bob/inbox"), [1])
        phone.close()
        self.alice.send(self.direct, "while-away", "queued for bob's phone")
        self.bob.msg(self.direct, "while-away")
        thief = self.st.client("mallory", "mallory-pw", client_id="bob-phone", clean=False)
        self.alice.send(self.direct, "live", "live for bob")
        self.bob.msg(self.direct, "live")
        case("take over another user's persistent session by client id")
        self.assertEqual(thief.subscribe("chat/u/mallory/inbox"), [1])
        got = [(m.topic, m.payload[:60]) for m in inbox_barrier(thief, "mallory")]
        self.assertEqual(got, [])
        thief.close()

    def test_client_id_takeover_kicks_another_users_device(self):
        """Mosquitto lets a new CONNECT with an existing client id take the
        old connection over, whoever the user; the plugin refuses a login
        whose client id is held by another user's live connection, so
        mallory, knowing the id of bob's tablet, cannot kick it off."""
        phone = self.st.client("bob", "bob-pw", client_id="bob-tablet")
        self.assertEqual(phone.subscribe("chat/u/bob/inbox"), [1])
        thief = self.st.client("mallory", "mallory-pw", client_id="bob-tablet",
                               connect=False)
        rc = thief.connect()
        case("log in with another user's client id (takeover)")
        self.assertNotEqual(rc, 0, "mallory was let in with bob's client id")
        inbox_barrier(phone, "bob")  # bob's device still gets its own replies
        self.assertFalse(phone.disconnected.is_set(), "bob's device was kicked off")
        phone.close()

    def test_stolen_sync_token_and_foreign_reads(self):
        token = self.bob.ok("sync")["next"]
        before = self.snap()
        r = self.mallory.req("sync", since=token)
        self.assertEqual(r.get("code"), "bad_request")
        case("sync with another user's token")
        for bad in ("", "t1", "t1.0-0.00000000", "x" * 64, token[:-1] + "0", 12):
            r = self.mallory.req("sync", since=bad)
            self.assertEqual(r.get("code"), "bad_request", repr(bad))
            case("sync with a forged token %r" % (bad,))
        self.assertEqual(self.mallory.req("history", conv=self.group)["code"], "not_member")
        case("history of a group one is not in")
        self.assertEqual(self.mallory.req("history", conv=self.direct)["code"], "not_member")
        case("history of another pair's direct conversation")
        self.mallory.send(self.direct, "intrude", "hi both")
        self.assertEqual(self.mallory.err(id="intrude")["code"], "not_member")
        case("send into another pair's direct conversation")
        self.assertEqual(self.mallory.req("mute", conv=self.group, until=0)["code"],
                         "not_member")
        case("mute a group one is not in")
        r = self.mallory.req("create", kind="group", title="x", members=["bob", "nobody"])
        self.assertEqual(r.get("code"), "not_found")
        case("group with a user that does not exist")
        r = self.mallory.req("create", kind="direct", **{"with": "mallory"})
        self.assertEqual(r.get("code"), "bad_request")
        case("direct conversation with oneself")
        r = self.mallory.req("create", kind="group", title="t" * 257, members=["bob"])
        self.assertEqual(r.get("code"), "bad_request")
        case("group title over 256 bytes")
        for fields in ({"before": -1}, {"limit": -5}, {"limit": 1.5}, {"before": "9"}):
            r = self.bob.req("history", conv=self.group, **fields)
            if r["t"] == "res":  # clamped rather than refused: still only the group's own
                self.assertTrue(all(e["conv"] == self.group for e in r["items"]))
            else:
                self.assertEqual(r["code"], "bad_request", fields)
            case("history with %r" % (fields,))
        self.assertUnchanged(before, "reads of what is not one's own")
        self.quiet(self.alice, self.bob, self.carol)

    def test_receipt_cursor_abuse(self):
        for i in range(2):
            self.alice.send(self.group, "cursor%d" % i, "x")
            self.carol.msg(self.group, "cursor%d" % i)
        last = self.log_ids(self.group)[-1][0]
        key = "mqchat:{c:%s}:rcpt" % self.group
        self.carol.c.publish("chat/c/%s/receipt" % self.group,
                             json.dumps({"type": "read", "seq": 10 ** 15}))
        case("receipt far past the last seq")
        e = self.alice.event(lambda e: e.get("t") == "receipt" and e.get("user") == "carol")
        self.assertEqual(e["seq"], last)  # clamped to the conversation's last seq
        self.carol.event(lambda e: e.get("t") == "receipt" and e.get("user") == "carol")
        self.bob.barrier()
        self.alice.barrier()
        self.assertEqual(self.st.redis.call("HGET", key, "r:carol"), str(last).encode())
        before = self.snap()
        for seq in (1, 0):
            self.carol.c.publish("chat/c/%s/receipt" % self.group,
                                 json.dumps({"type": "read", "seq": seq}))
            case("receipt moving the cursor back to %d" % seq)
        for bad in (-1, 1.5, "3", 2 ** 64, None):
            self.carol.c.publish("chat/c/%s/receipt" % self.group,
                                 json.dumps({"type": "read", "seq": bad}))
            self.assertEqual(self.carol.err()["code"], "bad_request", repr(bad))
            case("receipt seq %r" % (bad,))
        self.carol.c.publish("chat/c/%s/receipt" % self.group,
                             json.dumps({"type": "seen", "seq": 1}))
        self.assertEqual(self.carol.err()["code"], "bad_request")
        case("receipt of an unknown type")
        self.assertEqual(self.st.redis.call("HGET", key, "r:carol"), str(last).encode())
        self.quiet(self.carol)
        self.assertUnchanged(before, "receipts moving back or malformed")
        self.quiet(self.alice, self.bob)

    # -- duplicate keys (issue 14.2) --------------------------------------------

    def test_duplicate_keys_refused_everywhere(self):
        """One key twice, at any depth or however spelled, lets two parsers read
        one payload two ways (cJSON keeps the first, many keep the last): every
        kind of publish refuses it with bad_request, nothing stored, nobody
        told, and no id or req echoed (which of the two would it be?)."""
        g = self.group
        sends = [('{"id":"dup","id":"dup2","body":"x"}', "id twice"),
                 ('{"id":"dup3","body":"x","body":"y"}', "body twice"),
                 ('{"id":"dup4","\\u0069d":"dup5","body":"x"}', "id twice, once escaped"),
                 ('{"id":"dup6","body":"x","attrs":{"k":1,"k":2}}', "attrs key twice"),
                 ('{"id":"dup7","body":"x","attrs":{"a":[{"b":{"k":1,"\\u006b":2}}]}}',
                  "key twice deep in attrs"),
                 ('{"id":"dup8","body":"x","attrs":{},"attrs":{"reply_to":1}}', "attrs twice"),
                 ('{"id":"dup9","body":"x","attrs":{"\\u00e9":1,"\u00e9":2}}',
                  "attrs key as escape and as UTF-8")]
        for payload, name in sends:
            e = self.bad_post(self.bob, g, payload, "bad_request", "send: " + name)
            self.assertIn("duplicate key", e["msg"], name)
            self.assertNotIn("id", e, name)
        for payload, leaf in [('{"type":"read","seq":1,"seq":2}', "receipt"),
                              ('{"type":"read","type":"delivered","seq":1}', "receipt"),
                              ('{"state":"composing","state":"paused"}', "typing"),
                              ('{"state":"paused","x":{"k":[],"k":[]}}', "typing")]:
            e = self.bad_post(self.bob, g, payload, "bad_request",
                              "%s with a duplicate key %s" % (leaf, payload), leaf=leaf)
            self.assertIn("duplicate key", e["msg"])
        for payload in ['{"op":"convs","req":"d1","req":"d2"}',
                        '{"op":"leave","op":"convs","req":"d3","conv":"%s"}' % g,
                        '{"op":"add","req":"d4","conv":"%s","members":["carol"],'
                        '"members":["mallory"]}' % g,
                        '{"op":"mute","req":"d5","conv":"%s","until":0,"x":[{"k":0,"k":0}]}' % g]:
            self.bad_req(self.bob, payload, "bad_request", "request with a duplicate key " +
                         payload.replace(g, "{conv}"))
        # presence: the retained state is not moved
        state = self.presence_of("bob")
        self.bob.c.publish("chat/presence/bob", '{"state":"away","state":"online"}')
        self.assertEqual(self.bob.err()["code"], "bad_request")
        case("presence with a duplicate key")
        self.assertEqual(self.presence_of("bob"), state)
        self.quiet(self.alice, self.carol, self.mallory)

    def test_zz_broker_survived(self):
        self.assertTrue(self.st.broker.alive())
        self.st.broker.check_sanitizers()
        self.alice.send(self.direct, "alive", "still here")
        self.bob.msg(self.direct, "alive")


if __name__ == "__main__":
    main()
