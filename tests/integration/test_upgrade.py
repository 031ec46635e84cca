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

    def marks(self):
        """{rcpt key: jm} and {unread key: pd} of every conversation / user."""
        jm = {k.decode(): self.r("HGET", k, "jm") for k in self.r("KEYS", "mqchat:{c:*}:rcpt")}
        pd = {k.decode(): self.r("HGET", k, "pd") for k in self.r("KEYS", "mqchat:{u:*}:unread")}
        return jm, pd

    def test_upgrade_sets_the_fanout_marks(self):
        """The marks mqchat-push's expansion reads (the late-joiner seq jm
        of each conversation's rcpt, the push device count pd in each
        user's unread hash) are set by the upgrade where absent: on a v1
        store, and on a store of before the marks (version 2 already); the
        counters stay as they are."""
        self.load_fixture()
        group = self.r("KEYS", "mqchat:{c:g-*}:rcpt")[0].decode()
        self.r("HSET", group, "j:dan", 7, "j:cat", 4)     # late joiners (v1 kept j: too)
        self.r("HSET", "mqchat:{u:ben}:devices", "ab" * 32, "apns\ncom.x\n0")
        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        jm, pd = self.marks()
        self.assertEqual(jm[group], b"7")
        self.assertEqual({k: v for k, v in jm.items() if k != group},
                         {k: b"0" for k in jm if k != group})
        self.assertEqual(pd["mqchat:{u:ben}:unread"], b"1")
        self.assertEqual({k: v for k, v in pd.items() if "{u:ben}" not in k},
                         {k: b"0" for k in pd if "{u:ben}" not in k})
        # a store of before the marks (the current layout, version 2): the
        # marks gone, the rest as it is
        for k in jm:
            self.r("HDEL", k, "jm")
        for k in pd:
            self.r("HDEL", k, "pd")
        self.r("HSET", "mqchat:{u:cat}:devices", "cd" * 32, "fcm\ncom.x\n0")
        before = {k: self.r("HGETALL", k) for k in pd}
        res = self.st.cli("store", "upgrade")
        self.assertEqual(res.returncode, 0, res.stderr)
        jm2, pd2 = self.marks()
        self.assertEqual(jm2, jm)
        self.assertEqual(pd2, pd | {"mqchat:{u:cat}:unread": b"1"})
        for k, fv in before.items():
            after = self.r("HGETALL", k)
            self.assertEqual(dict(zip(after[::2], after[1::2])),
                             dict(zip(fv[::2], fv[1::2])) | {b"pd": pd2[k]}, k)


if __name__ == "__main__":
    main()
