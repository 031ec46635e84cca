"""The terminal client's message relations (issue #18, PROTOCOL.md "Message
relations"): /reply, /edit, /delete and /react checked before anything is
sent, and, against a broker that takes relations, each one sent through the
outbox, its echo shown readably (the quote under a reply, "#N edited: ...",
"#N deleted by you", the reaction counts with who reacted) and what another
member does shown the same way."""
import json
import os
import shutil
import tempfile
import unittest

from harness import CLI, Stack, main
from test_cli_chat import ChatProc

PW = "pw-cli-rel"
UP = "\U0001F44D"
PARTY = "\U0001F389"


def payload(m):
    return json.loads(m.payload.decode())


class CliRelationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.mkdtemp(prefix="mqc-cli-rel-")
        cls.stack = Stack().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    def env(self):
        env = dict(os.environ)
        env.pop("MQCHAT_MQTT", None)
        env["MQCHAT_PASSWORD"] = PW
        env["MQCHAT_STATE_DIR"] = self.state_dir
        return env

    def chat(self, user):
        p = ChatProc([CLI, "chat", "--user", user, "--mqtt",
                      "127.0.0.1:%d" % self.stack.broker.port], self.env())
        self.addCleanup(p.kill)
        p.wait_text("signed in as %s" % user)
        return p

    def inbox(self, user):
        self.stack.add_user(user, PW)
        c = self.stack.client(user, PW)
        self.assertLess(c.subscribe("chat/u/%s/inbox" % user)[0], 0x80)
        return c

    def request(self, c, user, obj):
        c.publish("chat/u/%s/req" % user, json.dumps(dict(obj, req="q1")))
        return payload(c.expect(lambda m: payload(m).get("req") == "q1", what="the reply"))

    def send(self, c, conv, obj):
        """Publish a send of c's user; its echo or err event."""
        c.publish("chat/c/%s/send" % conv, json.dumps(obj))
        return payload(c.expect(lambda m: payload(m).get("id") == obj["id"] and
                                payload(m).get("t") != "receipt", what="send %s" % obj["id"]))

    def test_usage_checked_before_sending(self):
        self.stack.add_user("ru_a", PW)
        p = self.chat("ru_a")
        p.send("/react 1 " + UP)
        p.wait_text("no conversation open")
        bob = self.inbox("ru_b")
        conv = self.request(bob, "ru_b", {"op": "create", "kind": "direct", "with": "ru_a"})["conv"]
        p.send("/join %s" % conv)
        p.wait_text("now in %s" % conv)
        for line, usage in [("/reply", "/reply SEQ TEXT"), ("/reply 3", "/reply SEQ TEXT"),
                            ("/edit x text", "/edit SEQ TEXT"), ("/edit 0 text", "/edit SEQ TEXT"),
                            ("/delete", "/delete SEQ"), ("/delete 3 now", "/delete SEQ"),
                            ("/react 3", "/react SEQ EMOJI"), ("/react 3 a b", "/react SEQ EMOJI"),
                            ("/react 3 " + "x" * 33, "/react SEQ EMOJI")]:
            n = len([l for l in p.out() if "usage: " + usage in l])
            p.send(line)
            p.wait(lambda l, u=usage, k=n: len([x for x in p.out() if "usage: " + u in x]) > k,
                   "usage for %r" % line)
        p.send("/help")
        p.wait_text("/react SEQ EMOJI       add EMOJI")
        code, err = p.quit()
        self.assertEqual(code, 0, err)
        self.assertFalse([l for l in p.out() if "message not sent" in l], p.out())

    def test_relations_sent_and_shown(self):
        bob = self.inbox("rs_b")
        self.stack.add_user("rs_a", PW)
        conv = self.request(bob, "rs_b", {"op": "create", "kind": "direct", "with": "rs_a"})["conv"]
        first = self.send(bob, conv, {"id": "b1", "body": "hello there, this is bob"})
        self.assertEqual(first.get("seq"), 1, first)
        probe = self.send(bob, conv, {"id": "b2", "react": 1, "emojis": []})
        self.assertEqual(probe.get("t"), "react", probe)  # seq 2
        watch = self.stack.client("rs_b", PW)  # bob's second device: sees alice's events
        self.assertLess(watch.subscribe("chat/u/rs_b/inbox")[0], 0x80)

        p = self.chat("rs_a")
        p.send("/join %s" % conv)
        p.wait_text("now in %s" % conv)
        p.send("/history 10")  # brings seq 1 for the quote
        p.wait_text("(beginning of conversation)")
        pre = "[%s] " % conv
        p.send("/reply 1 yes indeed")
        reply = p.wait_text(pre + "rs_a: yes indeed (seq 3) (reply to 1) - sent")
        quote = p.out()[p.out().index(reply) + 1]
        self.assertEqual(quote, "  \u21b3 reply to #1 rs_b: hello there, this is bob")
        p.send("/edit 3 yes, indeed")
        p.wait_text(pre + "#3 edited: yes, indeed (seq 4) - sent")
        p.send("/react 1 " + UP)
        p.wait_text(pre + "#1 reactions: %s 1 (rs_a) - sent" % UP)
        self.send(bob, conv, {"id": "b3", "react": 1, "emojis": [UP, PARTY]})
        p.wait_text(pre + "#1 reactions: %s 2 (rs_a, rs_b), %s 1 (rs_b)" % (UP, PARTY))
        p.send("/react 1 " + UP)  # toggled off: my set is [] now
        p.wait_text(pre + "#1 reactions: %s 1 (rs_b), %s 1 (rs_b) - sent" % (UP, PARTY))
        p.send("/delete 3")
        p.wait_text(pre + "#3 deleted by you (seq 8) - sent")
        p.send("/edit 3 too late")
        p.wait(lambda l: "message not sent" in l and "(not_found)" in l, "the refused edit")
        bob.publish("chat/c/%s/send" % conv, json.dumps({"id": "b4", "body": "what?", "reply_to": 3}))
        p.wait_text(pre + "rs_b: what? (seq 9) (reply to 3)")
        p.wait_text("  \u21b3 reply to #3 (message deleted)")
        code, err = p.quit()
        self.assertEqual(code, 0, err)

        # What bob's inbox got, in seq order.
        evs = []
        while len(evs) < 5:
            m = watch.expect(lambda m: payload(m).get("t") in ("msg", "edit", "delete", "react") and
                             payload(m).get("from") == "rs_a", what="alice's events at bob")
            e = payload(m)
            evs.append((e["t"], e["seq"], e.get("target"), e.get("reply_to"), e.get("body"),
                        e.get("emojis")))
        self.assertEqual(sorted(evs, key=lambda e: e[1]), [
            ("msg", 3, None, 1, "yes indeed", None),
            ("edit", 4, 3, None, "yes, indeed", None),
            ("react", 5, 1, None, None, [UP]),
            ("react", 7, 1, None, None, []),
            ("delete", 8, 3, None, None, None),
        ])


if __name__ == "__main__":
    main()
