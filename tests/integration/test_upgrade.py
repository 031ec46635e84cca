"""`mqchat store upgrade` (issue #15): a store written by the v1 code
(tests/fixtures/v1_store.json, made by tests/fixtures/make_v1_store.py with a
v1 build: per-user timelines, the v1 function library) is refused by the
broker until upgraded; the upgrade keeps every message, member, cursor and
badge, drops the timelines, replaces the v1 library, and is idempotent; a v1
sync token answers reset; the upgraded store takes new messages. An empty
store is marked with the version at once. Real redis-server and mosquitto."""
import json
import os
import subprocess
import unittest

from harness import Broker, Chat, Stack, main, wait_for

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                       "v1_store.json")


def pw(u):
    return u + "-pw"


class UpgradeTest(unittest.TestCase):
    def setUp(self):
        with open(FIXTURE) as f:
            self.fx = json.load(f)
        self.st = Stack(options={"presence_grace_ms": 0}).__enter__()
        self.addCleanup(self.st.__exit__, None, None, None)
        self.r = self.st.redis.call

    def load_fixture(self):
        """Replace the store with the v1 one: its keys and its library."""
        self.st.broker.stop()
        self.r("FLUSHALL")
        self.r("FUNCTION", "RESTORE", bytes.fromhex(self.fx["functions"]), "FLUSH")
        for k in self.fx["keys"]:
            ttl = k["pttl"] if k["pttl"] > 0 else 0
            self.r("RESTORE", k["key"], ttl, bytes.fromhex(k["dump"]), "REPLACE")

    def libraries(self):
        return sorted(dict(zip(lib[::2], lib[1::2]))[b"library_name"].decode()
                      for lib in self.r("FUNCTION", "LIST"))

    def test_empty_store_gets_the_version(self):
        self.assertEqual(self.r("GET", "mqchat:version"), b"2")
        self.assertEqual(self.libraries(), ["mqchat_v2"])

    def test_v1_store_refused_then_upgraded(self):
        self.load_fixture()
        self.assertEqual(self.libraries(), ["mqchat_v1"])
        # The broker refuses to start on it, naming the command.
        b = self.st.broker
        b.start(wait=False)
        wait_for(lambda: b.proc.poll() is not None, timeout=20, what="the broker to refuse")
        self.assertNotEqual(b.proc.returncode, 0)
        self.assertIn("mqchat store upgrade", b.log_text())
        b.proc = None
        self.assertIsNone(self.r("GET", "mqchat:version"))

        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("upgraded to version 2", res.stdout)
        self.assertEqual(self.r("GET", "mqchat:version"), b"2")
        self.assertEqual(self.libraries(), ["mqchat_v2"])  # v1 replaced, cleanly
        self.assertEqual(self.r("KEYS", "mqchat:{u:*}:tl"), [])
        # Idempotent: a second run changes nothing.
        before = self.st.redis.snapshot()
        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("0 conversations and 0 users converted", res.stdout)
        self.assertEqual(self.st.redis.snapshot(), before)

        # Badges: the v1 badge (sum of seq - read over conversations) is
        # the unread total, per conversation c - r.
        ex = self.fx["expect"]
        for u, badge in ex["badge"].items():
            self.assertEqual(int(self.r("HGET", "mqchat:{u:%s}:unread" % u, "total")), badge, u)
            for it in ex["convs"][u]:
                c = int(self.r("HGET", "mqchat:{u:%s}:unread" % u, "c:" + it["conv"]))
                rd = int(self.r("HGET", "mqchat:{u:%s}:unread" % u, "r:" + it["conv"]))
                self.assertEqual((c, rd, c - rd), (it["last_seq"], it["read_seq"], it["unread"]))

        b.start()
        chats = {u: Chat(self.st, u, pw(u)) for u in ex["convs"]}
        # Members, cursors, unread counts and every message survive.
        for u, items in ex["convs"].items():
            self.assertEqual(chats[u].ok("convs")["items"], items, u)
        for conv, hist in ex["history"].items():
            self.assertEqual(chats["ann"].ok("history", conv=conv, limit=200)["items"], hist)
        # A v1 token answers reset, never a silent gap.
        r = chats["ben"].ok("sync", since=ex["ben_v1_token"])
        self.assertTrue(r["reset"])
        # The upgraded store takes new messages; sync sees them.
        tok = chats["ben"].ok("sync")["next"]
        direct = [i["conv"] for i in ex["convs"]["ben"] if i["kind"] == "direct"][0]
        group = [i["conv"] for i in ex["convs"]["ben"] if i["kind"] == "group"][0]
        last = {i["conv"]: i["last_seq"] for i in ex["convs"]["ben"]}
        chats["ann"].send(direct, "after-up", "after the upgrade")
        self.assertEqual(chats["ben"].msg(direct, "after-up")["seq"], last[direct] + 1)
        chats["dan"].send(group, "after-up-g", "group after the upgrade")
        chats["ben"].msg(group, "after-up-g")
        ev = chats["ben"].ok("sync", since=tok)["events"]
        self.assertEqual([(e["conv"], e["seq"]) for e in ev],
                         [(direct, last[direct] + 1), (group, last[group] + 1)])
        # Counted messages continue from the upgrade's mc = seq.
        jobs_m = int(self.r("HGET", "mqchat:{c:%s}:meta" % direct, "mc"))
        self.assertEqual(jobs_m, last[direct] + 1)
        for c in chats.values():
            c.close()

    def test_upgrade_sets_the_late_joiner_mark(self):
        """The late-joiner mark mqchat-push's mqc2_recipients reads (jm in
        each conversation's rcpt: the highest j: cursor, 0 when none) is
        set by the upgrade where absent: on a v1 store, and on a store of
        before the mark (version 2 already); the rest stays as it is."""
        self.load_fixture()
        group = self.r("KEYS", "mqchat:{c:g-*}:rcpt")[0].decode()
        self.r("HSET", group, "j:dan", 7, "j:cat", 4)     # late joiners
        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        keys = [k.decode() for k in self.r("KEYS", "mqchat:{c:*}:rcpt")]
        self.assertGreaterEqual(len(keys), 2)
        jm = {k: self.r("HGET", k, "jm") for k in keys}
        self.assertEqual(jm, {k: b"7" if k == group else b"0" for k in keys})
        # a store of before the mark (the current layout, version 2)
        for k in keys:
            self.r("HDEL", k, "jm")
        self.r("HDEL", group, "j:dan")
        before = self.st.redis.snapshot()
        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual({k: self.r("HGET", k, "jm") for k in keys},
                         {k: b"4" if k == group else b"0" for k in keys})
        for k in keys:
            self.r("HDEL", k, "jm")
        self.assertEqual(self.st.redis.snapshot(), before)

if __name__ == "__main__":
    main()
