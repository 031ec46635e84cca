"""Message relations (issue #18, PROTOCOL.md "Message relations") against a
real broker and Redis: replies, edits, deletes and reactions on direct and
group conversations, live on several devices, through sync after being
offline and through history; refusals store nothing; deleted bodies are
erased from every key in Redis; relations never make jobs or unread counts."""
import json
import secrets
import unittest

from harness import Chat, Stack, conv_jobs, main, wait_for


def secret(tag):
    """A body nobody can find by accident (hex: LZF keeps it literal)."""
    return "%s-%s" % (tag, secrets.token_hex(24))


def token_seq(h, mid):
    """The seq of the event of client id mid in history h."""
    return next(e["seq"] for e in h if e.get("id") == mid)


class RelationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # push_preview off: with it on, a push job keeps a preview of the
        # body until the job stream is trimmed (docs/PROTOCOL.md); the
        # erasure check below covers every key of the store.
        cls.stack = Stack(options={"rate_msgs": 0, "push_preview": "false"}).__enter__()
        for u in ("alice", "bob", "carol", "dave"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def chat(self, user):
        return Chat(self.stack, user, user + "-pw")

    def r(self, *args):
        return self.stack.redis.call(*args)

    # ---- helpers ----

    def post(self, chat, conv, mid, **fields):
        chat.c.publish("chat/c/%s/send" % conv, json.dumps(dict(fields, id=mid)))

    def got(self, chat, conv, t, mid):
        return chat.event(lambda e: e.get("t") == t and e.get("conv") == conv and
                          e.get("id") == mid, what="%s %s" % (t, mid))

    def sent(self, chat, conv, mid, body):
        chat.send(conv, mid, body)
        return chat.msg(conv, mid)["seq"]

    def contents(self):
        """snapshot(), with hashes as their sorted fields: a read of a
        hash being rehashed (a tomb of long values) moves a step of the
        rehash, which changes the order its DUMP lists the fields in."""
        out = self.stack.redis.snapshot()
        for k in out:
            if self.r("TYPE", k) == b"hash":
                out[k] = sorted(self.r("HGETALL", k))
        return out

    def refused(self, chat, conv, mid, code, **fields):
        """Post a relation that must be refused with code, storing nothing."""
        before = self.contents()
        self.post(chat, conv, mid, **fields)
        e = chat.err(id=mid)
        self.assertEqual(e["code"], code, e)
        self.assertEqual(self.contents(), before)
        return e

    def history(self, chat, conv, limit=7):
        out, before = [], None
        while True:
            kw = {"conv": conv, "limit": limit}
            if before is not None:
                kw["before"] = before
            h = chat.ok("history", **kw)
            out = h["items"] + out
            if not h["more"]:
                return out
            before = h["items"][0]["seq"]

    def sync_all(self, chat, since):
        events, token = [], since
        while True:
            r = chat.ok("sync", since=token, limit=5)
            events += r["events"]
            token = r["next"]
            if not r["more"]:
                return events, token

    # ---- tests ----

    def test_each_relation_live_history_and_sync_direct_and_group(self):
        for kind in ("direct", "group"):
            with self.subTest(kind=kind):
                a1, a2, b1 = self.chat("alice"), self.chat("alice"), self.chat("bob")
                b_off = self.chat("bob")
                token = b_off.ok("sync")["next"]
                b_off.close()  # offline through everything below
                conv = a1.direct("bob") if kind == "direct" else a1.group("rel", ["bob", "carol"])
                for c in (a1, a2, b1):
                    c.barrier()
                s1 = self.sent(a1, conv, "m1-" + kind, "first")
                s2 = self.sent(a1, conv, "m2-" + kind, "second")
                # reply
                b1.send(conv, "r1-" + kind, "answer", reply_to=s1)
                reply = self.got(b1, conv, "msg", "r1-" + kind)
                self.assertEqual(reply["reply_to"], s1)
                # edit
                self.post(a1, conv, "e1-" + kind, edit=s2, body="second, fixed",
                          attrs={"k": 1})
                # react
                self.post(b1, conv, "x1-" + kind, react=s2, emojis=["👍", "🎉", "👍"])
                # delete
                self.post(a1, conv, "d1-" + kind, delete=s1)
                live = {}
                for c in (a1, a2, b1):
                    got = [self.got(c, conv, "msg", "r1-" + kind),
                           self.got(c, conv, "edit", "e1-" + kind),
                           self.got(c, conv, "react", "x1-" + kind),
                           self.got(c, conv, "delete", "d1-" + kind)] if c is not b1 else [
                        reply, self.got(c, conv, "edit", "e1-" + kind),
                        self.got(c, conv, "react", "x1-" + kind),
                        self.got(c, conv, "delete", "d1-" + kind)]
                    live[id(c)] = got
                    self.assertEqual([e["seq"] for e in got], list(range(s2 + 1, s2 + 5)))
                r, ed, x, d = live[id(a2)]
                self.assertEqual(live[id(a1)], live[id(a2)])
                self.assertEqual(live[id(b1)], live[id(a2)])
                self.assertEqual((ed["from"], ed["target"], ed["body"], ed["attrs"]),
                                 ("alice", s2, "second, fixed", {"k": 1}))
                self.assertEqual((x["from"], x["target"], x["emojis"]), ("bob", s2, ["👍", "🎉"]))
                self.assertEqual((d["from"], d["target"]), ("alice", s1))
                self.assertNotIn("body", d)
                self.assertTrue(all("ts" in e for e in (r, ed, x, d)))
                # history: the deleted message as a placeholder, in seq order
                h = self.history(a2, conv)
                tail = [e for e in h if e["seq"] >= s1]
                self.assertEqual([e["seq"] for e in tail], list(range(s1, s2 + 5)))
                self.assertEqual(tail[0], {"t": "msg", "conv": conv, "seq": s1,
                                           "id": "m1-" + kind, "from": "alice",
                                           "ts": tail[0]["ts"], "deleted": True})
                self.assertEqual(tail[1]["body"], "second")
                self.assertEqual(tail[2:], [r, ed, x, d])
                # sync after being offline: the same, from the same log
                b2 = self.chat("bob")
                events, _ = self.sync_all(b2, token)
                mine = [e for e in events if e.get("conv") == conv and e["seq"] >= s1]
                self.assertEqual(mine, tail)
                for c in (a1, a2, b1, b2):
                    c.close()

    def test_sync_of_a_message_deleted_before_and_after_the_token(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("sync-del", ["bob"])
        old = self.sent(a, conv, "old", "before the token")
        token = b.ok("sync")["next"]
        b.close()
        new = self.sent(a, conv, "new", "after the token")
        self.post(a, conv, "del-old", delete=old)
        self.post(a, conv, "del-new", delete=new)
        self.got(a, conv, "delete", "del-old")
        self.got(a, conv, "delete", "del-new")
        b = self.chat("bob")
        events, _ = self.sync_all(b, token)
        mine = [(e["t"], e["seq"], e.get("deleted"), "body" in e) for e in events
                if e.get("conv") == conv]
        # the message sent after the token comes back as its tombstone
        self.assertEqual(mine, [("msg", new, True, False), ("delete", new + 1, None, False),
                                ("delete", new + 2, None, False)])
        a.close()
        b.close()

    def test_long_runs_of_erased_events_page_through_sync_and_history(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("gap", ["bob"])
        b.barrier()
        before = b.ok("sync")["next"]
        s = self.sent(a, conv, "gap-m", "edited a lot")
        for i in range(30):
            self.post(a, conv, "gap-e%d" % i, edit=s, body="take %d" % i)
            self.got(b, conv, "edit", "gap-e%d" % i)
            if i == 9:
                middle = b.ok("sync")["next"]
        self.post(a, conv, "gap-d", delete=s)
        self.got(b, conv, "delete", "gap-d")
        d = self.chat("bob")
        for token, first in ((before, s), (middle, s + 11)):
            events, _ = self.sync_all(d, token)  # pages of 5
            mine = [e for e in events if e.get("conv") == conv]
            self.assertEqual([e["seq"] for e in mine], list(range(first, s + 32)))
            self.assertTrue(all(e.get("deleted") for e in mine[:-1]))
            self.assertTrue(all("body" not in e for e in mine))
            self.assertEqual(mine[-1]["t"], "delete")
        h = self.history(d, conv)  # pages of 7
        self.assertEqual([e["seq"] for e in h], list(range(1, s + 32)))

    def test_forbidden_edits_and_deletes_store_nothing(self):
        a, b, c = self.chat("alice"), self.chat("bob"), self.chat("carol")
        direct = a.direct("bob")
        group = a.group("perm", ["bob", "carol"])  # alice is the admin
        for c_ in (a, b, c):
            c_.barrier()
        sd = self.sent(a, direct, "pd", "alice's")
        sg = self.sent(a, group, "pg", "alice's in the group")
        sb = self.sent(b, group, "pb", "bob's in the group")
        self.refused(b, direct, "b-edit-d", "forbidden", edit=sd, body="hacked")
        self.refused(b, direct, "b-del-d", "forbidden", delete=sd)
        self.refused(b, group, "b-edit-g", "forbidden", edit=sg, body="hacked")
        self.refused(c, group, "c-del-g", "forbidden", delete=sb)  # not an admin
        self.refused(a, group, "a-edit-b", "forbidden", edit=sb, body="admins cannot edit")
        self.refused(self.chat("dave"), group, "d-react", "not_member", react=sg, emojis=["x"])
        # allowed: the admin deletes bob's message; bob edits his own
        self.post(b, group, "b-edit-own", edit=sb, body="bob's, fixed")
        self.got(c, group, "edit", "b-edit-own")
        self.post(a, group, "a-del-b", delete=sb)
        self.assertEqual(self.got(c, group, "delete", "a-del-b")["target"], sb)
        # a block refuses the blocked user's relations in the direct conversation too
        a.ok("block", user="bob")
        self.refused(b, direct, "b-react-blocked", "forbidden", react=sd, emojis=["👍"])
        a.ok("unblock", user="bob")
        self.post(b, direct, "b-react-unblocked", react=sd, emojis=["👍"])
        self.got(a, direct, "react", "b-react-unblocked")

    def test_not_found_targets(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("nf", ["bob"])
        b.barrier()
        s = self.sent(a, conv, "nf-m", "to be deleted")
        self.post(a, conv, "nf-e", edit=s, body="edited once")
        edit_seq = self.got(a, conv, "edit", "nf-e")["seq"]
        self.refused(a, conv, "nf-edit-edit", "not_found", edit=edit_seq, body="x")
        self.refused(a, conv, "nf-react-member", "not_found", react=1, emojis=["x"])  # member event
        self.refused(a, conv, "nf-reply-missing", "not_found", body="?", reply_to=999)
        self.refused(a, conv, "nf-edit-missing", "not_found", edit=999, body="?")
        self.post(a, conv, "nf-d", delete=s)
        self.got(a, conv, "delete", "nf-d")
        self.refused(a, conv, "nf-edit-deleted", "not_found", edit=s, body="too late")
        self.refused(a, conv, "nf-del-twice", "not_found", delete=s)
        self.refused(b, conv, "nf-react-deleted", "not_found", react=s, emojis=["x"])
        # a reply to a deleted message is still a reply
        b.send(conv, "nf-reply-deleted", "replying anyway", reply_to=s)
        self.assertEqual(self.got(b, conv, "msg", "nf-reply-deleted")["reply_to"], s)

    def test_bad_relation_payloads(self):
        a = self.chat("alice")
        conv = a.group("bad", ["bob"])
        s = self.sent(a, conv, "bad-m", "x")
        for mid, fields in (("bad1", {"edit": s}), ("bad2", {"edit": s, "delete": s}),
                            ("bad3", {"delete": s, "body": "x"}),
                            ("bad4", {"react": s, "emojis": ["e%d" % i for i in range(21)]}),
                            ("bad5", {"react": s, "emojis": ["x" * 33]}),
                            ("bad6", {"delete": 0}), ("bad7", {"body": "x", "reply_to": "1"})):
            self.refused(a, conv, mid, "bad_request", **fields)

    def test_reactions_toggled_many_times_converge(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.direct("bob")
        s = self.sent(a, conv, "rx", "react to me")
        sets = [["👍"], [], ["👍", "❤️"], ["❤️"], ["😂", "👍"], []] * 5 + [["🎉", "👍"]]
        for i, em in enumerate(sets):
            self.post(b, conv, "rx-%d" % i, react=s, emojis=em)
        for i in range(len(sets)):
            self.got(a, conv, "react", "rx-%d" % i)

        def final(events):
            mine = {}
            for e in sorted(events, key=lambda e: e["seq"]):
                if e.get("t") == "react" and e["target"] == s:
                    mine[e["from"]] = e["emojis"]
            return mine

        self.assertEqual(final(self.history(a, conv)), {"bob": ["🎉", "👍"]})
        self.assertEqual(final(self.sync_all(self.chat("alice"), None)[0]), {})  # no token: none
        # a fresh device: the whole log through history
        self.assertEqual(final(self.history(self.chat("bob"), conv)), {"bob": ["🎉", "👍"]})

    def test_retries_by_id_store_once(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.direct("bob")
        s = self.sent(a, conv, "rt", "retry me")
        log = "mqchat:{c:%s}:log" % conv
        for mid, fields, t in (("rt-e", {"edit": s, "body": "v2"}, "edit"),
                               ("rt-x", {"react": s, "emojis": ["👍"]}, "react"),
                               ("rt-d", {"delete": s}, "delete")):
            self.post(a, conv, mid, **fields)
            first = self.got(a, conv, t, mid)
            self.got(b, conv, t, mid)
            n = self.r("XLEN", log)
            self.post(a, conv, mid, **fields)  # a retry, e.g. after a lost PUBACK
            again = self.got(a, conv, t, mid)
            self.assertEqual(again["seq"], first["seq"])
            self.assertEqual(self.r("XLEN", log), n)
            self.assertEqual([e for e in b.barrier() if e.get("id") == mid], [])
        # the edit was erased with its message: its retry answers the tombstone
        self.post(a, conv, "rt-e", edit=s, body="v2")
        e = self.got(a, conv, "edit", "rt-e")
        self.assertTrue(e["deleted"])
        self.assertNotIn("body", e)

    def test_deleted_bodies_are_erased_from_every_key(self):
        # Nodes of 100 entries (Redis' stream-node-max-entries), not cut
        # earlier by size: the erasure's rewrite must reach back far enough.
        self.r("CONFIG", "SET", "stream-node-max-bytes", "0")
        self.addCleanup(self.r, "CONFIG", "SET", "stream-node-max-bytes", "4096")
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("erase", ["bob"])
        keep = secret("keep")
        gone_old, gone_new = secret("gone-old"), secret("gone-new")
        edits = [secret("edit%d" % i) for i in range(3)]
        attrs = secret("attrs")
        old = self.sent(a, conv, "er-old", gone_old)
        self.post(a, conv, "er-e0", edit=old, body=edits[0], attrs={"x": attrs})
        self.got(a, conv, "edit", "er-e0")
        # 250 messages after it, three of them deleted below (one near a
        # node's start, one in the middle of one)
        mid = {97: secret("gone-97"), 98: secret("gone-98"), 150: secret("gone-150")}
        for i in range(250):
            a.send(conv, "er-fill-%d" % i, keep if i == 75 else mid.get(i, "filler %d" % i),
                   wait=False)
        fills = {i: a.msg(conv, "er-fill-%d" % i)["seq"] for i in range(250)}
        new = self.sent(a, conv, "er-new", gone_new)
        self.post(a, conv, "er-e1", edit=new, body=edits[1])
        self.post(a, conv, "er-e2", edit=new, body=edits[2])
        self.got(a, conv, "edit", "er-e2")
        self.post(a, conv, "er-d-old", delete=old)
        self.post(b, conv, "er-r", react=new, emojis=["👍"])
        self.post(a, conv, "er-d-new", delete=new)
        for i in mid:
            self.post(a, conv, "er-d-%d" % i, delete=fills[i])
            self.got(a, conv, "delete", "er-d-%d" % i)
        self.got(a, conv, "delete", "er-d-new")
        gone = [gone_old, gone_new, attrs] + edits + list(mid.values())
        self.r("CONFIG", "SET", "rdbcompression", "no")  # DUMP shows strings as stored
        dumps = self.stack.redis.snapshot(skip=())
        # the check can see a body (XDEL alone, which only flags entries,
        # fails it: tried)
        self.assertTrue(any(keep.encode() in (v or b"") for v in dumps.values()))
        found = [(k, s) for k, v in dumps.items() for s in gone if s.encode() in (v or b"")]
        self.assertEqual(found, [], "erased text still in these keys' DUMP")
        # and as the commands read it: every key of the conversation
        keys = [k.decode() for k in dumps if ("{c:%s}" % conv).encode() in k]
        self.assertEqual(sorted(k.rsplit(":", 1)[1] for k in keys),
                         ["ids", "log", "members", "meta", "rcpt", "tomb"])
        for k in keys:
            kind = self.r("TYPE", k).decode()
            text = repr(self.r({"stream": "XRANGE", "hash": "HGETALL"}[kind], k,
                               *(["-", "+"] if kind == "stream" else [])))
            for s in gone:
                self.assertNotIn(s, text, k)
        # everything else is intact, in order
        h = self.history(b, conv)
        self.assertEqual([e["seq"] for e in h], list(range(1, len(h) + 1)))
        by = {e["seq"]: e for e in h}
        self.assertTrue(all(by[s]["deleted"] for s in [old, new] + [fills[i] for i in mid]))
        self.assertTrue(by[old + 1]["deleted"] and by[old + 1]["t"] == "edit")
        self.assertEqual(sum(1 for e in h if e.get("body") == keep), 1)
        # the nodes of the erased entries left the log for the tomb hash
        tomb = "mqchat:{c:%s}:tomb" % conv
        seqs = [int(f) for f in self.r("HKEYS", tomb) if f.isdigit()]
        self.assertEqual(self.r("XLEN", "mqchat:{c:%s}:log" % conv) + len(seqs), len(h))
        self.assertLessEqual(len(seqs), 5 * 201)
        a.send(conv, "er-after", "the log goes on")
        self.assertEqual(a.msg(conv, "er-after")["seq"], len(h) + 1)

    def cmdstats(self):
        """INFO commandstats: command -> calls (commands run inside functions
        count too)."""
        out = {}
        for line in self.r("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[8:].split(":", 1)
                out[name] = int(dict(kv.split("=") for kv in rest.split(","))["calls"])
        return out

    def test_delete_moves_only_the_target_nodes(self):
        # A delete with 5,000 entries after its target (and an edit of it
        # 2,500 entries on) moves the nodes of the target and the edit into
        # the tomb hash, whatever the log holds after them: bounded work.
        self.r("CONFIG", "SET", "stream-node-max-bytes", "0")
        self.addCleanup(self.r, "CONFIG", "SET", "stream-node-max-bytes", "4096")
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("cost", ["bob"])
        b.barrier()
        log, tomb = "mqchat:{c:%s}:log" % conv, "mqchat:{c:%s}:tomb" % conv
        body = secret("gone")
        edit_body = secret("gone-edit")
        for i in range(150):
            a.send(conv, "c-pre-%d" % i, "pre %d" % i, wait=False)
            if i == 49:
                a.msg(conv, "c-pre-49")
                token = b.ok("sync")["next"]
        target = self.sent(a, conv, "c-target", body)
        meta = "mqchat:{c:%s}:meta" % conv

        def stored(seq):  # (5,000 live events overflow the test client's queue)
            wait_for(lambda: int(self.r("HGET", meta, "seq")) == seq, timeout=60,
                     what="seq %d stored" % seq)
        for i in range(5000):
            a.send(conv, "c-post-%d" % i, "post %d" % i, wait=False)
            if i == 2500:
                stored(target + 2501)
                self.post(a, conv, "c-edit", edit=target, body=edit_body)
                stored(target + 2502)
                edit = target + 2502
        last = target + 5001
        stored(last)
        a.barrier()
        b.barrier()
        n = self.r("XLEN", log)
        self.r("CONFIG", "RESETSTAT")
        self.post(a, conv, "c-del", delete=target)
        self.got(a, conv, "delete", "c-del")
        st = self.cmdstats()
        # one XADD (the delete event; the tail's rewrite made 5,000), one
        # XRANGE and one XDEL per moved node
        self.assertLessEqual(st.get("xadd", 0), 1, st)
        self.assertLessEqual(st.get("xdel", 0), 2, st)
        self.assertLessEqual(st.get("xrange", 0) + st.get("xrevrange", 0), 4, st)
        seqs = sorted(int(f) for f in self.r("HKEYS", tomb) if f.isdigit())
        self.assertLessEqual(len(seqs), 2 * 201)
        self.assertEqual(self.r("XLEN", log), n + 1 - len(seqs))
        self.assertIn(target, seqs)
        self.assertIn(edit, seqs)
        # erased from every key
        self.r("CONFIG", "SET", "rdbcompression", "no")
        dumps = self.stack.redis.snapshot(skip=())
        found = [k for k, v in dumps.items() for x in (body, edit_body) if x.encode() in (v or b"")]
        self.assertEqual(found, [])
        # history: every seq once, in order, the neighbours whole
        h = self.history(b, conv, limit=100)
        self.assertEqual([e["seq"] for e in h], list(range(1, last + 2)))
        by = {e["seq"]: e for e in h}
        self.assertTrue(by[target]["deleted"] and by[edit]["deleted"])
        self.assertNotIn("body", by[target])
        posts = [e for e in h if e.get("id", "").startswith("c-post-")]
        self.assertEqual([e["body"] for e in posts], ["post %d" % i for i in range(5000)])
        pres = [e for e in h if e.get("id", "").startswith("c-pre-")]
        self.assertEqual([e["body"] for e in pres], ["pre %d" % i for i in range(150)])
        # sync from before the moved entries: the same events, in order
        events, tok = [], token
        while True:
            r = b.ok("sync", since=tok, limit=100)
            events += r["events"]
            tok = r["next"]
            if not r["more"]:
                break
        self.assertEqual([e["seq"] for e in events],
                         [e["seq"] for e in h if e["seq"] > token_seq(h, "c-pre-49")])
        self.assertEqual(events, [e for e in h if e["seq"] > token_seq(h, "c-pre-49")])
        # receipts at moved entries give their message counts (unread)
        msgs = {e["seq"]: i + 1 for i, e in enumerate(x for x in h if x["t"] == "msg")}
        for at in (target, target + 2):
            b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": at}))
            wait_for(lambda: int(self.r("HGET", "mqchat:{u:bob}:unread", "r:" + conv) or 0)
                     == msgs[at], what="unread read mark at %d" % at)
        # retries: a moved message answers its original; the deleted one its tombstone
        near = self.sent(a, conv, "c-post-3", "post 3")
        self.assertEqual(near, by[target + 4]["seq"])
        self.assertIn(near, seqs)
        self.post(a, conv, "c-post-3", body="post 3")
        again = self.got(a, conv, "msg", "c-post-3")
        self.assertEqual((again["seq"], again["body"]), (near, "post 3"))
        self.post(a, conv, "c-target", body=body)
        again = self.got(a, conv, "msg", "c-target")
        self.assertTrue(again["deleted"])
        self.assertNotIn("body", again)
        # a moved message is still a target: edit it, reply to it
        self.post(a, conv, "c-edit-near", edit=near, body="post 3, fixed")
        self.got(a, conv, "edit", "c-edit-near")
        b.send(conv, "c-reply-near", "re", reply_to=near)
        self.assertEqual(b.msg(conv, "c-reply-near")["reply_to"], near)
    def test_relations_make_no_jobs_and_no_unread(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("nojobs", ["bob"])
        b.barrier()
        s = self.sent(a, conv, "nj", "counted")
        meta = "mqchat:{c:%s}:meta" % conv
        jobs = conv_jobs(self.stack.redis, conv)
        mc = self.r("HGET", meta, "mc")
        unread = self.r("HGETALL", "mqchat:{u:bob}:unread")
        shown = {i["conv"]: i for i in b.ok("convs")["items"]}[conv]["unread"]
        self.assertEqual(shown, 1)
        self.post(a, conv, "nj-e", edit=s, body="edited")
        self.got(b, conv, "edit", "nj-e")
        # convs counts msg events after the read cursor: alice's edit adds none
        # (bob's own reaction below then marks the conversation read)
        self.assertEqual({i["conv"]: i for i in b.ok("convs")["items"]}[conv]["unread"], shown)
        self.post(b, conv, "nj-x", react=s, emojis=["👍"])
        self.post(a, conv, "nj-d", delete=s)
        self.got(b, conv, "delete", "nj-d")
        self.assertEqual(conv_jobs(self.stack.redis, conv), jobs)  # no job: no push
        self.assertEqual(self.r("HGET", meta, "mc"), mc)
        self.assertEqual(self.r("HGETALL", "mqchat:{u:bob}:unread"), unread)
        for _id, f in self.r("XRANGE", "mqchat:{c:%s}:log" % conv, "(%d-0" % s, "+"):
            self.assertEqual(dict(zip(f[::2], f[1::2]))[b"m"], mc)  # m = mc: not a msg


class RetentionTest(unittest.TestCase):
    def test_retention_trims_moved_entries(self):
        # Entries a delete moved into the tomb hash go with retention like
        # the log's, with their dedupe keys and edit indexes.
        with Stack(options={"retention_seconds": 2, "rate_msgs": 0,
                            "push_preview": "false"}) as st:
            for u in ("alice", "bob"):
                st.add_user(u, u + "-pw")
            a = Chat(st, "alice", "alice-pw")
            conv = a.group("ret", ["bob"])
            for i in range(20):
                a.send(conv, "old-%d" % i, "old %d" % i, wait=False)
            s5 = a.msg(conv, "old-5")["seq"]
            s3 = s5 - 2
            a.msg(conv, "old-19")
            post = "chat/c/%s/send" % conv
            a.c.publish(post, json.dumps({"id": "old-e", "edit": s3, "body": "old 3!"}))
            a.c.publish(post, json.dumps({"id": "old-d", "delete": s5}))
            a.event(lambda e: e.get("t") == "delete" and e.get("id") == "old-d")
            tomb, ids = "mqchat:{c:%s}:tomb" % conv, "mqchat:{c:%s}:ids" % conv

            def moved():
                return [f for f in st.redis.call("HKEYS", tomb) if f != b"lo"]
            self.assertIn(b"e:%d" % s3, moved())
            self.assertGreater(len(moved()), 20)  # the whole log (one node)
            self.assertEqual(st.redis.call("HEXISTS", ids, "alice\nold-1"), 1)
            t0 = int(st.redis.call("TIME")[0])
            wait_for(lambda: int(st.redis.call("TIME")[0]) >= t0 + 3, what="retention")
            for i in range(130):  # past the send path's trim (every 64th seq)
                a.send(conv, "new-%d" % i, "new %d" % i, wait=False)
            wait_for(lambda: moved() == [], what="tomb trimmed")
            self.assertEqual(st.redis.call("HEXISTS", ids, "alice\nold-1"), 0)
            self.assertEqual(st.redis.call("HEXISTS", ids, "alice\nold-d"), 0)
            h = a.ok("history", conv=conv, limit=100)["items"]
            self.assertTrue(all(e["id"].startswith("new-") for e in h), h[:3])


if __name__ == "__main__":
    main()
