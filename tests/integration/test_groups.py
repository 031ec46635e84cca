"""Conversations and membership: direct create is idempotent, group rules
(admins only, removed members stop receiving and cannot post), member events
take a seq and reach everyone concerned, convs reports unread counts."""
import json
import unittest

from harness import Chat, Stack, main


class GroupsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"max_group_members": 10}).__enter__()
        for u in ("alice", "bob", "carol", "dave", "erin"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def chat(self, user):
        return Chat(self.stack, user, user + "-pw")

    def test_direct_is_idempotent_from_both_sides(self):
        a, b = self.chat("alice"), self.chat("bob")
        c1 = a.direct("bob")
        self.assertEqual(a.direct("bob"), c1)
        self.assertEqual(b.direct("alice"), c1)
        self.assertNotEqual(a.direct("carol"), c1)
        self.assertTrue(c1.startswith("d-"))
        self.assertEqual(a.req("create", kind="direct", **{"with": "alice"})["code"],
                         "bad_request")
        self.assertEqual(a.req("create", kind="direct", **{"with": "nobody"})["code"],
                         "not_found")
        self.assertEqual(a.req("create", kind="direct", **{"with": "a/b"})["code"],
                         "bad_request")
        self.assertEqual(a.req("add", conv=c1, members=["carol"])["code"], "forbidden")
        self.assertEqual(a.req("leave", conv=c1)["code"], "forbidden")

    def test_group_lifecycle(self):
        a, b, c, d = self.chat("alice"), self.chat("bob"), self.chat("carol"), self.chat("dave")
        conv = a.group("Team", ["bob", "carol"])
        ev = b.event(lambda e: e.get("t") == "member")
        self.assertEqual((ev["seq"], ev["op"], ev["users"], ev["by"]),
                         (1, "added", ["alice", "bob", "carol"], "alice"))
        c.event(lambda e: e.get("t") == "member")
        a.event(lambda e: e.get("t") == "member")

        # non-admins may not add or remove; outsiders are not members
        self.assertEqual(b.req("add", conv=conv, members=["dave"])["code"], "forbidden")
        self.assertEqual(b.req("remove", conv=conv, members=["carol"])["code"], "forbidden")
        self.assertEqual(d.req("add", conv=conv, members=["dave"])["code"], "not_member")
        self.assertEqual(a.req("add", conv=conv, members=["ghost"])["code"], "not_found")

        a.ok("add", conv=conv, members=["dave", "bob"])  # bob already in: skipped
        for x in (a, b, c, d):
            ev = x.event(lambda e: e.get("t") == "member" and e["op"] == "added")
            self.assertEqual((ev["seq"], ev["users"]), (2, ["dave"]))
        a.send(conv, "hello", "hi all")
        for x in (a, b, c, d):
            self.assertEqual(x.msg(conv, "hello")["seq"], 3)

        a.ok("remove", conv=conv, members=["carol"])
        for x in (a, b, c, d):
            ev = x.event(lambda e: e.get("t") == "member" and e["op"] == "removed")
            self.assertEqual((ev["seq"], ev["users"], ev["by"]), (4, ["carol"], "alice"))
        a.send(conv, "after", "carol is gone")
        self.assertEqual(b.msg(conv, "after")["seq"], 5)
        self.assertNotIn("after", [e.get("id") for e in c.barrier()])
        c.send(conv, "sneaky", "still here?")
        self.assertEqual(c.err(id="sneaky")["code"], "not_member")
        self.assertEqual(c.req("history", conv=conv)["code"], "not_member")
        self.assertNotIn(conv, [i["conv"] for i in c.ok("convs")["items"]])

        self.assertEqual(a.ok("remove", conv=conv, members=["carol"])["conv"], conv)  # noop
        b.ok("leave", conv=conv)
        ev = a.event(lambda e: e.get("t") == "member" and e["op"] == "left")
        self.assertEqual((ev["seq"], ev["users"], ev["by"]), (6, ["bob"], "bob"))
        b.event(lambda e: e.get("t") == "member" and e["op"] == "left")
        self.assertEqual(b.req("leave", conv=conv)["code"], "not_member")

        # last admin leaves: dave (the only one left) becomes admin
        a.ok("leave", conv=conv)
        self.assertEqual(d.event(lambda e: e.get("t") == "member" and e["op"] == "left")["users"],
                         ["bob"])
        self.assertEqual(d.event(lambda e: e.get("t") == "member" and e["op"] == "left")["users"],
                         ["alice"])
        d.ok("add", conv=conv, members=["erin"])
        hist = d.ok("history", conv=conv)["items"]
        self.assertEqual([e["seq"] for e in hist], list(range(1, 9)))
        self.assertEqual([e["t"] for e in hist],
                         ["member", "member", "msg", "member", "msg", "member", "member",
                          "member"])

    def test_convs_unread_and_shape(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.group("Unread", ["bob"])
        for i in range(3):
            a.send(conv, "u%d" % i, "m")
        b.msg(conv, "u2")
        items = {i["conv"]: i for i in b.ok("convs")["items"]}
        it = items[conv]
        self.assertEqual((it["kind"], it["title"], it["members"], it["admins"]),
                         ("group", "Unread", ["alice", "bob"], ["alice"]))
        # unread counts msg events only: not the group's creation (seq 1)
        self.assertEqual((it["last_seq"], it["read_seq"], it["unread"]), (4, 0, 3))
        mine = {i["conv"]: i for i in a.ok("convs")["items"]}[conv]
        self.assertEqual(mine["unread"], 0)  # own messages are read
        b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 2}))
        a.event(lambda e: e.get("t") == "receipt")
        it = {i["conv"]: i for i in b.ok("convs")["items"]}[conv]
        self.assertEqual((it["read_seq"], it["unread"]), (2, 2))
        convs = [i["conv"] for i in b.ok("convs")["items"]]
        self.assertEqual(convs, sorted(convs))

    def test_bad_requests(self):
        a = self.chat("alice")
        cases = [
            ({"op": "create", "kind": "group", "title": 5, "members": ["bob"]}, "bad_request"),
            ({"op": "create", "kind": "group", "title": "x" * 300, "members": ["bob"]},
             "bad_request"),
            ({"op": "create", "kind": "group", "members": "bob"}, "bad_request"),
            ({"op": "create", "kind": "group", "members": ["bob", 3]}, "bad_request"),
            ({"op": "create", "kind": "group", "members": ["m%d" % i for i in range(10)]},
             "bad_request"),  # 11 with the creator: over max_group_members 10
            ({"op": "create", "kind": "room"}, "bad_request"),
            ({"op": "fly"}, "bad_request"),
            ({"op": "add", "conv": "g-x"}, "bad_request"),
            ({"op": "add", "conv": "g-x", "members": []}, "bad_request"),
            ({"op": "leave"}, "bad_request"),
        ]
        for body, code in cases:
            with self.subTest(body=body):
                op = body.pop("op")
                self.assertEqual(a.req(op, **body)["code"], code)
        # A request without a usable req id still gets an answer, without req.
        a.publish_raw("chat/u/alice/req", json.dumps({"op": "convs"}))
        e = a.err()
        self.assertEqual(e["code"], "bad_request")
        self.assertNotIn("req", e)
        a.publish_raw("chat/u/alice/req", b"\x00\x01garbage")
        self.assertEqual(a.err()["code"], "bad_request")
        self.assertTrue(self.stack.broker.alive())

    def test_size_cap_holds_across_requests(self):
        # max_group_members is 10: each add is small, their sum is not.
        users = ["cap%d" % i for i in range(12)]
        for u in users:
            self.stack.add_user(u, "pw")
        a = self.chat("alice")
        conv = a.group("capped", users[:4])  # 5 with alice
        self.assertEqual(a.ok("add", conv=conv, members=users[4:8])["conv"], conv)  # 9
        r = a.req("add", conv=conv, members=users[8:12])  # would be 13
        self.assertEqual(r["code"], "forbidden", r)
        r = a.req("add", conv=conv, members=users[8:10])  # would be 11
        self.assertEqual(r["code"], "forbidden", r)
        a.ok("add", conv=conv, members=users[8:9])  # 10: at the cap
        item = [c for c in a.ok("convs")["items"] if c["conv"] == conv][0]
        self.assertEqual(len(item["members"]), 10)
        self.assertEqual(a.req("add", conv=conv, members=users[9:10])["code"], "forbidden")


if __name__ == "__main__":
    main()
