"""Flood limits per user: over plugin_opt_rate_msgs / rate_bytes / rate_reqs a
client gets `rate_limited` (with its id or req) and nothing is stored; the
limit is per user, so others are not held back, and the next window works."""
import json
import subprocess
import unittest

from harness import Chat, Stack, main, wait_for


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"rate_msgs": 5, "rate_bytes": 4000,
                                   "rate_reqs": 6}).__enter__()
        for u in ("alice", "bob", "carol"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def log_len(self, conv):
        return int(subprocess.run(["redis-cli", "-p", str(self.stack.redis.port), "XLEN",
                                   "mqchat:{c:%s}:log" % conv], capture_output=True, text=True,
                                  timeout=10).stdout.strip() or 0)

    def test_message_flood(self):
        a, b = Chat(self.stack, "alice", "alice-pw"), Chat(self.stack, "bob", "bob-pw")
        conv = a.direct("bob")
        for i in range(12):
            a.send(conv, "f%d" % i, "x", wait=False)
        outcomes = {}
        for i in range(12):
            e = a.event(lambda e: e.get("id") == "f%d" % i)
            outcomes["f%d" % i] = e["t"] if e["t"] == "msg" else e["code"]
        limited = [k for k, v in outcomes.items() if v == "rate_limited"]
        stored = [k for k, v in outcomes.items() if v == "msg"]
        self.assertGreaterEqual(len(limited), 1)
        self.assertLessEqual(len(stored), 10)  # at most two 1 s windows' worth
        self.assertEqual(self.log_len(conv), len(stored))  # nothing stored for the rest
        # bob is not held back by alice's flood
        b.send(conv, "b1", "hi")
        self.assertEqual(b.msg(conv, "b1")["from"], "bob")
        # a refused message goes through when retried later with the same id
        retry = limited[0]
        def accepted():
            a.send(conv, retry, "x")
            e = a.event(lambda e: e.get("id") == retry)
            return e["t"] == "msg"
        wait_for(accepted, what="retry in a later window")

    def test_bytes_flood(self):
        c = Chat(self.stack, "carol", "carol-pw")
        conv = c.direct("alice")
        c.send(conv, "big1", "y" * 3000)
        self.assertEqual(c.msg(conv, "big1")["seq"] >= 1, True)
        c.send(conv, "big2", "y" * 3000)  # 6000 bytes in one second > 4000
        e = c.event(lambda e: e.get("id") == "big2")
        if e["t"] == "msg":  # the first landed at the very end of a window
            c.send(conv, "big3", "y" * 3000)
            e = c.event(lambda e: e.get("id") == "big3")
        self.assertEqual(e.get("code"), "rate_limited")

    def test_request_flood(self):
        b = Chat(self.stack, "bob", "bob-pw")
        codes = []
        for i in range(15):
            b.c.publish("chat/u/bob/req", json.dumps({"op": "convs", "req": "q%d" % i}),
                        wait=False)
        for i in range(15):
            e = b.event(lambda e: e.get("req") == "q%d" % i)
            codes.append(e["t"] if e["t"] == "res" else e["code"])
        self.assertIn("rate_limited", codes)
        self.assertLessEqual(codes.count("res"), 12)

    def test_receipt_flood(self):
        # Receipts cost a Redis call each and share the requests' limit (6/s
        # here): a burst of 15 gets rate_limited errors; a later one works.
        a, c = Chat(self.stack, "alice", "alice-pw"), Chat(self.stack, "carol", "carol-pw")
        conv = a.direct("carol")
        a.send(conv, "r1", "one")
        c.msg(conv, "r1")
        for _ in range(15):
            c.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "delivered", "seq": 1}))
        self.assertEqual(c.err(code="rate_limited")["t"], "err")

        def read_moves():
            c.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 1}))
            return self.stack.redis.call("HGET", "mqchat:{c:%s}:rcpt" % conv, "r:carol") == b"1"
        wait_for(read_moves, interval=0.3, what="a receipt after the window")

if __name__ == "__main__":
    main()
