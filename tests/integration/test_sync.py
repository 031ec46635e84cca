"""Offline delivery and multi-device sync: every event a device missed,
exactly once, in per-conversation order, paged; tokens bound to the user and
valid across restarts; retention gives `reset`; push jobs for members with no
device in the foreground, not for muted conversations, with the right badge."""
import json
import subprocess
import unittest


from harness import Chat, Stack, conv_jobs, main, wait_for


def redis(stack, *args):
    return subprocess.run(["redis-cli", "-c", "-p", str(stack.redis.port)] + list(args),
                          capture_output=True, text=True, timeout=10).stdout


def sync_all(chat, since, limit):
    """Page through sync; returns (events, last token, pages)."""
    events, pages, token = [], 0, since
    while True:
        r = chat.ok("sync", since=token, limit=limit)
        pages += 1
        events += r["events"]
        token = r["next"]
        if not r["more"]:
            return events, token, pages


class SyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"presence_grace_ms": 0}).__enter__()
        for u in ("alice", "bob", "carol", "dave"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def chat(self, user):
        return Chat(self.stack, user, user + "-pw")

    def test_old_layout_event_read_by_history_and_sync(self):
        """A log entry stored in the older field layout (the event not the
        first field) reads the same through history as through sync (issue
        14.4: one reader in store/mqchat.lua)."""
        a, d = self.chat("alice"), self.chat("dave")
        conv = a.direct("dave")
        token = d.ok("sync")["next"]
        a.send(conv, "new-1", "new layout")
        d.msg(conv, "new-1")
        old = {"t": "msg", "conv": conv, "seq": 2, "id": "old-2", "from": "alice",
               "ts": 1, "body": "old layout"}
        r = self.stack.redis.call
        # An entry as v1 wrote it (no m), at Redis' time (sync reads by time).
        sec, usec = r("TIME")
        now = int(sec) * 1000 + int(usec) // 1000
        r("XADD", "mqchat:{c:%s}:log" % conv, "2-0", "t", str(now), "k", "alice\nold-2",
          "e", json.dumps(old))
        r("HSET", "mqchat:{c:%s}:meta" % conv, "seq", "2", "lt", str(now))
        h = a.ok("history", conv=conv)
        self.assertEqual([e["id"] for e in h["items"]], ["new-1", "old-2"])
        self.assertEqual(h["items"][1]["body"], "old layout")
        events, _, _ = sync_all(d, token, 10)
        self.assertEqual([e.get("id") for e in events], ["new-1", "old-2"])
        a.send(conv, "new-3", "after the old one")  # the next seq follows
        self.assertEqual(d.msg(conv, "new-3")["seq"], 3)
        a.close()
        d.close()

    def test_offline_device_syncs_300_in_pages(self):
        b_off = self.chat("bob")
        start = b_off.ok("sync")
        self.assertEqual((start["events"], start["more"], start["reset"]), ([], False, False))
        token = start["next"]
        b_off.close()
        a, c = self.chat("alice"), self.chat("carol")
        c1 = a.direct("bob")
        c2 = a.group("g-sync", ["bob", "carol"])
        c3 = c.direct("bob")
        sent = {c1: [], c2: [], c3: []}
        for i in range(100):
            for conv, who in ((c1, a), (c2, a if i % 2 else c), (c3, c)):
                who.send(conv, "s%d" % i, "m%d" % i, wait=False)
        for conv, who in ((c1, a), (c2, c), (c3, c)):
            who.msg(conv, "s99")
        b = self.chat("bob")
        events, last, pages = sync_all(b, token, 50)
        msgs = [e for e in events if e["t"] == "msg"]
        self.assertEqual(len(msgs), 300)
        self.assertGreaterEqual(pages, 6)
        keys = [(e["conv"], e["seq"]) for e in events]
        self.assertEqual(len(keys), len(set(keys)))  # exactly once
        for conv in (c1, c2, c3):
            seqs = [e["seq"] for e in events if e["conv"] == conv]
            self.assertEqual(seqs, sorted(seqs))
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))  # no gap
        self.assertIn("member", [e["t"] for e in events])  # the group's creation
        again = b.ok("sync", since=last)
        self.assertEqual((again["events"], again["more"]), ([], False))
        # Tokens are positions in time: an empty page's next is as good as
        # the last one; what arrives after either comes exactly once.
        c.send(c3, "after", "after the catch-up")
        c.msg(c3, "after")
        for since in (last, again["next"]):
            late, _, _ = sync_all(b, since, 50)
            self.assertEqual([e.get("id") for e in late], ["after"])

    def test_two_devices_offline_one_catches_up(self):
        a = self.chat("alice")
        conv = a.direct("dave")
        d1 = self.chat("dave")
        token = d1.ok("sync")["next"]
        d2 = self.chat("dave")
        live = []
        for i in range(20):
            a.send(conv, "two%d" % i, "x")
        for i in range(20):
            live.append(d2.msg(conv, "two%d" % i))
        d1.close()
        d1 = self.chat("dave")
        events, _, _ = sync_all(d1, token, 7)
        self.assertEqual([e for e in events if e["conv"] == conv], live)

    def test_tokens_bound_to_user_and_garbage_refused(self):
        a, b = self.chat("alice"), self.chat("bob")
        tok = a.ok("sync")["next"]
        self.assertEqual(b.req("sync", since=tok)["code"], "bad_request")
        for bad in ("garbage", "t1.1-0.00000000", "t1.abc.12345678", "", 5):
            self.assertEqual(a.req("sync", since=bad)["code"], "bad_request", bad)
        self.assertEqual(a.ok("sync", since=tok)["events"], [])

    def test_jobs_in_slot_stream(self):
        """Lazy fan-out (#15): every stored msg and member event has exactly
        one job in the job stream of its conversation's slot, whoever is
        online; push decisions (presence, mute, devices) are mqchat-push's."""
        for u in ("ja", "jb", "jc"):
            self.stack.add_user(u, u + "-pw")
        a = self.chat("ja")
        conv = a.group("jobs", ["jb", "jc"])  # jb and jc offline
        a.send(conv, "j1", "hello push world")
        a.msg(conv, "j1")
        a.ok("remove", conv=conv, members=["jc"])
        jobs = conv_jobs(self.stack.redis, conv)
        self.assertEqual([(j["s"], j["k"], j["f"], j["m"]) for j in jobs],
                         [("1", "member", "ja", "0"), ("2", "msg", "ja", "1"),
                          ("3", "member", "ja", "1")])
        self.assertEqual(jobs[1]["p"], "hello push world")
        self.assertEqual(jobs[2]["u"], "jc")
        self.assertTrue(all(int(j["ts"]) > 0 for j in jobs))

    def test_one_job_per_message(self):
        # Lazy fan-out: the broker writes one job per stored message into its
        # conversation's slot job stream, whoever is online; mqchat-push
        # expands it (presence, mutes, devices, badges: test_push_fanout,
        # end to end: test_push_bridge).
        for u in ("pa", "pb", "pc", "pd"):
            self.stack.add_user(u, u + "-pw")
        a = self.chat("pa")
        conv = a.group("push", ["pb", "pc"])  # pb and pc offline
        carol = self.chat("pc")  # pc comes online
        before = len(conv_jobs(self.stack.redis, conv))
        self.assertEqual(before, 1)  # the group's creation (a member event)
        a.send(conv, "p1", "hello push world")
        a.msg(conv, "p1")
        carol.msg(conv, "p1")
        jobs = conv_jobs(self.stack.redis, conv)[before:]
        self.assertEqual([(j["c"], j["s"], j["k"], j["f"], j["m"], j.get("p")) for j in jobs],
                         [(conv, "2", "msg", "pa", "1", "hello push world")])
        b = self.chat("pb")
        self.assertEqual(sum(i["unread"] for i in b.ok("convs")["items"]), 1)
        # mutes are stored for mqchat-push to read; members only
        self.assertEqual(b.ok("mute", conv=conv, until=2 ** 50)["conv"], conv)
        self.assertTrue(redis(self.stack, "HGET", "mqchat:{u:pb}:mute", conv).strip())
        b.ok("mute", conv=conv, until=0)
        self.assertFalse(redis(self.stack, "HGET", "mqchat:{u:pb}:mute", conv).strip())
        self.assertEqual(self.chat("pd").req("mute", conv=conv, until=1)["code"], "not_member")

    def test_devices_registry_and_moving_tokens(self):
        a, b = self.chat("alice"), self.chat("bob")
        a.ok("device", platform="apns", token="ab" * 32, app="com.example.chat", sandbox=True)
        self.assertIn("ab" * 32, redis(self.stack, "HKEYS", "mqchat:{u:alice}:devices"))
        b.ok("device", platform="apns", token="ab" * 32, app="com.example.chat")
        self.assertNotIn("ab" * 32, redis(self.stack, "HKEYS", "mqchat:{u:alice}:devices"))
        self.assertIn("ab" * 32, redis(self.stack, "HKEYS", "mqchat:{u:bob}:devices"))
        b.ok("undevice", token="ab" * 32)
        self.assertNotIn("ab" * 32, redis(self.stack, "HKEYS", "mqchat:{u:bob}:devices"))
        for bad in ({"platform": "sms", "token": "x", "app": "a"},
                    {"platform": "fcm", "token": "bad token!", "app": "a"},
                    {"platform": "fcm", "token": "tok", "app": "a", "sandbox": "yes"},
                    {"platform": "fcm", "app": "a"}):
            self.assertEqual(a.req("device", **bad)["code"], "bad_request", bad)


class SyncRestartTest(unittest.TestCase):
    def test_restart_and_retention(self):
        with Stack(options={"retention_seconds": 2}) as st:
            st.add_user("alice", "a")
            st.add_user("bob", "b")
            a = Chat(st, "alice", "a")
            conv = a.direct("bob")
            b = Chat(st, "bob", "b")
            token = b.ok("sync")["next"]
            b.close()
            # A push job is written only for a user with no device left: the
            # broker may handle bob's disconnect after alice's send otherwise.
            wait_for(lambda: redis(st, "HGET", "mqchat:{u:bob}:presence",
                                   "devices").strip() in ("", "0"), what="bob's device count")
            a.send(conv, "r1", "before restart")
            a.msg(conv, "r1")
            a.close()
            st.broker.stop()
            st.broker.start()
            b = Chat(st, "bob", "b")
            r = b.ok("sync", since=token)
            self.assertEqual([e["id"] for e in r["events"]], ["r1"])
            self.assertFalse(r["reset"])
            # jobs survive the restart
            self.assertEqual([j["s"] for j in conv_jobs(st.redis, conv)], ["1"])
            old = r["next"]
            b.close()
            a = Chat(st, "alice", "a")
            a.send(conv, "r2", "soon expired")
            a.msg(conv, "r2")
            b = Chat(st, "bob", "b")

            def expired():
                return b.ok("sync", since=old)["reset"]
            # after the 2 s retention the entry after `old` is trimmed: reset
            wait_for(expired, timeout=15, what="reset after retention")


if __name__ == "__main__":
    main()
