"""Nothing is lost across restarts: a broker restart keeps history and the
next seq; with Redis down senders get `unavailable` and nothing is delivered,
and when Redis returns sends (retried with the same ids) go on with no gap
and no duplicate, without restarting the broker."""
import json
import unittest

from harness import Chat, Stack, main, wait_for


class DurabilityTest(unittest.TestCase):
    def test_broker_restart_keeps_history_and_seq(self):
        with Stack() as st:
            st.add_user("alice", "a")
            st.add_user("bob", "b")
            a = Chat(st, "alice", "a")
            conv = a.direct("bob")
            for i in range(5):
                a.send(conv, "pre%d" % i, "before restart")
            a.msg(conv, "pre4")
            a.close()
            st.broker.stop()
            st.broker.start()
            a = Chat(st, "alice", "a")
            b = Chat(st, "bob", "b")
            hist = a.ok("history", conv=conv)["items"]
            self.assertEqual([e["id"] for e in hist], ["pre%d" % i for i in range(5)])
            a.send(conv, "post", "after restart")
            self.assertEqual(b.msg(conv, "post")["seq"], 6)
            a.send(conv, "pre2", "a retry from before the restart")
            self.assertEqual(a.msg(conv, "pre2")["seq"], 3)
            self.assertEqual([e for e in b.barrier() if e.get("t") == "msg"], [])

    def test_redis_outage_unavailable_then_no_gap_no_duplicate(self):
        with Stack() as st:
            st.add_user("alice", "a")
            st.add_user("bob", "b")
            a, b = Chat(st, "alice", "a"), Chat(st, "bob", "b")
            conv = a.group("outage", ["bob"])
            a.send(conv, "m1", "one")
            self.assertEqual(b.msg(conv, "m1")["seq"], 2)
            pid = st.broker.proc.pid

            st.redis.stop()
            a.send(conv, "m2", "two")
            e = a.err(id="m2")
            self.assertEqual(e["code"], "unavailable")
            self.assertEqual(a.req("history", conv=conv)["code"], "unavailable")
            b.publish_raw("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 2}))
            self.assertEqual(b.err()["code"], "unavailable")
            self.assertNotIn("m2", [x.get("id") for x in b.backlog])

            st.redis.start()

            def resent():
                a.send(conv, "m2", "two")
                e = a.event(lambda e: (e.get("t") == "msg" and e.get("id") == "m2") or
                            (e.get("t") == "err" and e.get("id") == "m2"))
                return e if e["t"] == "msg" else None

            got = wait_for(resent, what="send to work again after Redis restart")
            self.assertEqual(got["seq"], 3)
            a.send(conv, "m2", "two")  # one more retry: still seq 3, nothing new
            self.assertEqual(a.msg(conv, "m2")["seq"], 3)
            a.send(conv, "m3", "three")
            self.assertEqual(b.msg(conv, "m2")["seq"], 3)
            self.assertEqual(b.msg(conv, "m3")["seq"], 4)
            self.assertEqual([x for x in b.barrier() if x.get("t") == "msg"], [])
            self.assertEqual(st.broker.proc.pid, pid)
            seqs = [x["seq"] for x in a.ok("history", conv=conv)["items"]]
            self.assertEqual(seqs, [1, 2, 3, 4])


if __name__ == "__main__":
    main()
