"""Durable messaging against a real broker and Redis: seq order, store-once,
dedupe of retries, fan-out to every device, and every bad payload answered
with the right error while the next good message still gets the next seq."""
import json
import subprocess
import unittest

from harness import V311, V5, Chat, Stack, main


class MessagingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # rate_msgs 0: the 500-message burst is faster than the default flood limit
        cls.stack = Stack(options={"max_message_bytes": 2048, "rate_msgs": 0}).__enter__()
        for u in ("alice", "bob", "carol", "mallory"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def chat(self, user, protocol=V311):
        return Chat(self.stack, user, user + "-pw", protocol=protocol)

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-c", "-p", str(self.stack.redis.port)] + list(args),
                              capture_output=True, text=True, timeout=10).stdout

    def test_burst_of_500_in_order_to_every_device(self):
        for proto in (V311, V5):
            with self.subTest(protocol=proto):
                a1, a2, b = self.chat("alice", proto), self.chat("alice", proto), self.chat("bob",
                                                                                            proto)
                conv = a1.group("burst-%d" % proto, ["bob"])
                for c in (a1, a2, b):
                    c.event(lambda e: e.get("t") == "member" and e["conv"] == conv)
                    self.assertEqual(c.barrier(), [])
                ids = ["b%d-%d" % (proto, i) for i in range(500)]
                for mid in ids:
                    a1.send(conv, mid, "text " + mid, wait=False)
                for c in (b, a2, a1):
                    got = [c.event(lambda e: e.get("t") == "msg" and e["conv"] == conv)
                           for _ in ids]
                    self.assertEqual([e["id"] for e in got], ids)
                    self.assertEqual([e["seq"] for e in got], list(range(2, 502)))
                    self.assertTrue(all(e["from"] == "alice" and "ts" in e for e in got))
                for c in (a1, a2, b):
                    c.close()

    def test_retry_same_id_same_seq_no_duplicate(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.direct("bob")
        a.send(conv, "once", "first")
        first = a.msg(conv, "once")
        self.assertEqual(b.msg(conv, "once")["seq"], first["seq"])
        a.send(conv, "once", "changed body on retry")
        again = a.msg(conv, "once")
        self.assertEqual(again, first)  # the original, byte for byte
        a.send(conv, "next", "second")
        self.assertEqual(a.msg(conv, "next")["seq"], first["seq"] + 1)
        later = b.msg(conv, "next")
        self.assertEqual([e for e in b.barrier() if e.get("t") == "msg"], [])  # no duplicate
        self.assertEqual(later["seq"], first["seq"] + 1)
        stored = self.redis("XLEN", "mqchat:{c:%s}:log" % conv).strip()
        self.assertEqual(int(stored), first["seq"] + 1)

    def test_body_stored_once_and_fields_as_sent(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("g", ["bob", "carol"])
        a.send(conv, "m-attrs", "héllo ✓", attrs={"reply_to": 3, "files": [], "x": {"y": None}},
               seq=999, **{"from": "mallory", "ts": 1})
        e = b.msg(conv, "m-attrs")
        self.assertEqual(e["body"], "héllo ✓")
        self.assertEqual(e["attrs"], {"reply_to": 3, "files": [], "x": {"y": None}})
        self.assertEqual(e["from"], "alice")      # server values win
        self.assertNotEqual(e["seq"], 999)
        self.assertGreater(e["ts"], 1)
        raw = self.redis("--raw", "XRANGE", "mqchat:{c:%s}:log" % conv, "-", "+")
        self.assertEqual(raw.count("héllo ✓"), 1)

    def test_attrs_delivered_as_sent(self):
        """attrs reach everyone as the client wrote them (issue 21.8): numbers
        no double holds, exponents, trailing zeros, escapes and key order, byte
        for byte in the live event, in history and in sync; only white space
        between tokens is dropped."""
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("attrs-as-sent", ["bob"])
        b.event(lambda e: e.get("t") == "member" and e.get("conv") == conv)
        since = b.ok("sync")["next"]
        raw = self.stack.client("bob", "bob-pw")
        self.assertEqual(raw.subscribe("chat/u/bob/inbox"), [1])
        attrs = ('{"big":9007199254740993,"u64":12345678901234567890,"huge":1e400,'
                 '"neg":-0.10,"exp":1E+2,"tiny":5e-324,"s":"\\u00e9\\/\\"x","z":[0,{"a":null}],'
                 '"a":true}')
        spaced = ' { "n" : 9007199254740993 ,\t"l" : [ 1.50 , "a b" ] } '
        a.publish_raw("chat/c/%s/send" % conv,
                      '{"id":"nums","body":"x","attrs":%s}' % attrs)
        a.publish_raw("chat/c/%s/send" % conv,
                      '{"id":"spaced","body":"x","attrs":%s}' % spaced)
        kept = [attrs.encode(), b'{"n":9007199254740993,"l":[1.50,"a b"]}']

        def tail(attrs_text):
            return b',"attrs":' + attrs_text + b'}'

        for mid, want in zip(("nums", "spaced"), kept):
            m = raw.expect(lambda m: b'"id":"%s"' % mid.encode() in m.payload, what=mid)
            self.assertTrue(m.payload.endswith(tail(want)), m.payload)
            self.assertEqual(b.msg(conv, mid)["attrs"]["big" if mid == "nums" else "n"],
                             9007199254740993)
        for op, fields in (("history", {"conv": conv, "limit": 10}), ("sync", {"since": since})):
            raw.publish("chat/u/bob/req", json.dumps(dict(fields, op=op, req="raw-" + op)))
            m = raw.expect(lambda m: b'"req":"raw-%s"' % op.encode() in m.payload, what=op)
            for want in kept:
                self.assertIn(tail(want), m.payload, op)
        raw.close()

    def test_non_member_and_unknown_conversation(self):
        a, m = self.chat("alice"), self.chat("mallory")
        conv = a.direct("bob")
        m.send(conv, "x1", "let me in")
        self.assertEqual(m.err(id="x1")["code"], "not_member")
        m.send("no-such-conv", "x2", "hi")
        self.assertEqual(m.err(id="x2")["code"], "not_member")
        self.assertEqual(m.req("history", conv=conv)["code"], "not_member")
        m.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 1}))
        self.assertEqual(m.err()["code"], "not_member")
        m.publish_raw("chat/c/%s/typing" % conv, json.dumps({"state": "composing"}))
        self.assertEqual(m.err()["code"], "not_member")

    def test_malformed_payloads_then_next_seq(self):
        a, b = self.chat("alice", V5), self.chat("bob")
        conv = a.direct("bob")
        a.send(conv, "good-1", "ok")
        s1 = a.msg(conv, "good-1")["seq"]
        cases = [
            (b"not json", "bad_request", None),
            (b"[1,2,3]", "bad_request", None),
            (b'"a string"', "bad_request", None),
            (b"{}", "bad_request", None),
            (json.dumps({"body": "no id"}).encode(), "bad_request", None),
            (json.dumps({"id": "", "body": "empty id"}).encode(), "bad_request", None),
            (json.dumps({"id": "x" * 65, "body": "long id"}).encode(), "bad_request", None),
            (json.dumps({"id": 7, "body": "numeric id"}).encode(), "bad_request", None),
            (json.dumps({"id": "nb", "body": 42}).encode(), "bad_request", "nb"),
            (json.dumps({"id": "nb2"}).encode(), "bad_request", "nb2"),
            (json.dumps({"id": "at", "body": "x", "attrs": [1]}).encode(), "bad_request", "at"),
            (b'{"id":"u8","body":"\xff\xfe"}', "bad_request", None),
            (b'{"id":"nul","body":"a\\u0000b"}', "bad_request", None),
            (b'{"id":"trail","body":"x"} junk', "bad_request", None),
            (json.dumps({"id": "big", "body": "x" * 3000}).encode(), "too_large", None),
        ]
        for payload, code, ref in cases:
            with self.subTest(payload=payload[:40]):
                a.publish_raw("chat/c/%s/send" % conv, payload)
                e = a.err()
                self.assertEqual(e["code"], code)
                if ref:
                    self.assertEqual(e.get("id"), ref)
                self.assertIn("msg", e)
        a.send(conv, "good-2", "still fine")
        self.assertEqual(a.msg(conv, "good-2")["seq"], s1 + 1)
        got = b.msg(conv, "good-2")
        self.assertEqual(got["seq"], s1 + 1)
        self.assertTrue(self.stack.broker.alive())

    def test_receipts_forwarded_monotonic_clamped(self):
        a, a2, b = self.chat("alice"), self.chat("alice"), self.chat("bob")
        conv = a.direct("carol")
        self.assertEqual(b.req("history", conv=conv)["code"], "not_member")
        conv = a.group("rcpt", ["bob"])
        for i in range(3):
            a.send(conv, "r%d" % i, "m")
        b.msg(conv, "r2")
        b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "delivered", "seq": 3}))
        e = a.event(lambda e: e.get("t") == "receipt")
        self.assertEqual((e["user"], e["type"], e["seq"], e["conv"]), ("bob", "delivered", 3, conv))
        self.assertEqual(a2.event(lambda e: e.get("t") == "receipt")["seq"], 3)
        b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "delivered", "seq": 2}))
        b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 100}))
        e = a.event(lambda e: e.get("t") == "receipt")
        self.assertEqual((e["type"], e["seq"]), ("read", 4))  # clamped to last seq, lower ignored
        items = {i["conv"]: i for i in b.ok("convs")["items"]}
        self.assertEqual((items[conv]["read_seq"], items[conv]["unread"]), (4, 0))
        for bad in ({"type": "seen", "seq": 1}, {"type": "read", "seq": -1},
                    {"type": "read", "seq": 1.5}, {"type": "read"}, {"type": "read", "seq": "3"}):
            b.publish_raw("chat/c/%s/receipt" % conv, json.dumps(bad))
            self.assertEqual(b.err()["code"], "bad_request")

    def test_typing_forwarded_not_stored(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.direct("bob")
        a.publish_raw("chat/c/%s/typing" % conv, json.dumps({"state": "composing"}))
        e = b.event(lambda e: e.get("t") == "typing")
        self.assertEqual((e["user"], e["state"], e["conv"]), ("alice", "composing", conv))
        self.assertNotIn("typing", [x.get("t") for x in a.barrier()])  # not to the sender
        a.publish_raw("chat/c/%s/typing" % conv, json.dumps({"state": "dancing"}))
        self.assertEqual(a.err()["code"], "bad_request")
        h = a.ok("history", conv=conv)
        self.assertNotIn("typing", [x["t"] for x in h["items"]])

    def test_typing_rate_limited(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("typing-flood", ["bob"])
        b.event(lambda e: e.get("t") == "member")
        for _ in range(20):
            a.publish_raw("chat/c/%s/typing" % conv, json.dumps({"state": "composing"}))
        got = [x for x in b.barrier() if x.get("t") == "typing"]
        self.assertGreaterEqual(len(got), 1)
        self.assertLessEqual(len(got), 8)  # 4 per second, the burst may straddle a second

    def test_history_paging(self):
        a = self.chat("alice")
        conv = a.group("hist", ["bob"])
        for i in range(25):
            a.send(conv, "h%d" % i, "m%d" % i)
        a.msg(conv, "h24")
        page = a.ok("history", conv=conv, limit=10)
        self.assertEqual([e["seq"] for e in page["items"]], list(range(17, 27)))
        self.assertTrue(page["more"])
        page = a.ok("history", conv=conv, before=17, limit=10)
        self.assertEqual([e["seq"] for e in page["items"]], list(range(7, 17)))
        page = a.ok("history", conv=conv, before=7, limit=10)
        self.assertEqual([e["seq"] for e in page["items"]], list(range(1, 7)))
        self.assertFalse(page["more"])
        self.assertEqual(page["items"][0]["t"], "member")
        page = a.ok("history", conv=conv, limit=1000)
        self.assertEqual(len(page["items"]), 26)  # capped at 200, all fit
        self.assertEqual(a.ok("history", conv=conv, before=1)["items"], [])
        for bad in ({"limit": 0}, {"limit": "5"}, {"before": -2}, {"conv": "a/b"}):
            fields = dict({"conv": conv}, **bad)
            self.assertEqual(a.req("history", **fields)["code"], "bad_request")

    def test_fifty_member_group(self):
        names = ["m%02d" % i for i in range(50)]
        for n in names:
            self.stack.add_user(n, "pw")
        chats = [Chat(self.stack, n, "pw") for n in names]
        conv = chats[0].group("fifty", names[1:])
        for c in chats:
            self.assertEqual(len(c.event(lambda e: e.get("t") == "member")["users"]), 50)
        chats[7].send(conv, "hello-all", "hi fifty")
        seqs = {c.msg(conv, "hello-all")["seq"] for c in chats}
        self.assertEqual(seqs, {2})
        for c in chats:
            c.close()


if __name__ == "__main__":
    main()
