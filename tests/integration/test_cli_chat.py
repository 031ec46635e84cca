"""The mqchat terminal client (chat, send, listen, req) against a real broker
with the plugin: requests answered, messages stored and delivered to the
other member (seen by a paho client), errors turned into exit codes, and the
interactive client driven through a pipe, including what it shows on start
about what arrived while it was away (its sync position lives in
MQCHAT_STATE_DIR, a temporary directory here). Passwords go through
MQCHAT_PASSWORD, never argv. Each test uses its own users, so the order of
the tests does not matter."""
import json
import os
import queue
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest

from harness import CLI, DEFAULT_TIMEOUT, Stack, main, wait_for

PW = "pw-cli-chat"


def payload(m):
    return json.loads(m.payload.decode())


class CliChatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.mkdtemp(prefix="mqc-cli-state-")
        cls.stack = Stack().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    def users(self, *names):
        for n in names:
            self.stack.add_user(n, PW)

    def env(self, password=PW):
        env = dict(os.environ)
        env.pop("MQCHAT_MQTT", None)
        env["MQCHAT_PASSWORD"] = password
        env["MQCHAT_STATE_DIR"] = self.state_dir  # never the real ~/.local/state
        return env

    def argv(self, cmd, user, *args):
        return [CLI, cmd, "--user", user, "--mqtt", "127.0.0.1:%d" % self.stack.broker.port] + \
            list(args)

    def mq(self, cmd, user, *args, input=None, password=PW):
        """Run a one-shot client subcommand to completion."""
        return subprocess.run(self.argv(cmd, user, *args), input=input, capture_output=True,
                              text=True, timeout=60, env=self.env(password))

    def req(self, user, obj):
        r = self.mq("req", user, json.dumps(obj))
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, (r.stdout, r.stderr))
        return r, json.loads(lines[0])

    def direct(self, a, b):
        r, res = self.req(a, {"op": "create", "kind": "direct", "with": b})
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        return res["conv"]

    def inbox(self, user):
        c = self.stack.client(user, PW)
        self.assertLess(c.subscribe("chat/u/%s/inbox" % user)[0], 0x80)
        return c

    def test_req_creates_direct_conv(self):
        self.users("rq_a", "rq_b")
        r, res = self.req("rq_a", {"op": "create", "kind": "direct", "with": "rq_b"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(res["t"], "res")
        self.assertEqual(res["op"], "create")
        self.assertTrue(isinstance(res.get("req"), str) and res["req"], res)
        self.assertTrue(res["conv"].startswith("d-"), res)
        # The same pair from the other side: the same conversation.
        r2, res2 = self.req("rq_b", {"op": "create", "kind": "direct", "with": "rq_a",
                                     "req": "mine-1"})
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(res2["req"], "mine-1")
        self.assertEqual(res2["conv"], res["conv"])

    def test_req_error_exits_1(self):
        self.users("rq_err")
        r, res = self.req("rq_err", {"op": "create", "kind": "direct", "with": "nobody_here"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(res["t"], "err")
        self.assertEqual(res["code"], "not_found")

    def test_send_is_stored_and_delivered(self):
        self.users("sd_a", "sd_b")
        conv = self.direct("sd_a", "sd_b")
        bob = self.inbox("sd_b")
        r = self.mq("send", "sd_a", "--conv", conv, "hello", "bob")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "sent seq 1")
        m = bob.expect(lambda m: payload(m).get("t") == "msg", what="the msg at bob")
        ev = payload(m)
        self.assertEqual(ev["conv"], conv)
        self.assertEqual(ev["from"], "sd_a")
        self.assertEqual(ev["body"], "hello bob")
        self.assertEqual(ev["seq"], 1)
        # A second send takes the next seq.
        r = self.mq("send", "sd_a", "--conv", conv, "again")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "sent seq 2")

    def test_send_not_member_exits_1(self):
        self.users("nm_a", "nm_b", "nm_eve")
        conv = self.direct("nm_a", "nm_b")
        for target in (conv, "no-such-conv"):
            r = self.mq("send", "nm_eve", "--conv", target, "let me in")
            self.assertEqual(r.returncode, 1, (target, r.stdout, r.stderr))
            self.assertIn("not_member", r.stderr)
            self.assertNotIn("sent seq", r.stdout)

    def test_wrong_password_and_usage(self):
        self.users("wp_a")
        r = self.mq("send", "wp_a", "--conv", "c1", "x", password="wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused", r.stderr)
        r = self.mq("send", "wp_a", "no-conv-given")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)
        r = subprocess.run([CLI, "listen", "--mqtt", "127.0.0.1:%d" % self.stack.broker.port],
                           capture_output=True, text=True, timeout=30, env=self.env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("--user", r.stderr)

    def test_bad_mqchat_mqtt_is_a_usage_error(self):
        # An unusable $MQCHAT_MQTT: exit 2 with a message, for every MQTT
        # subcommand, unless --mqtt replaces it.
        self.users("bm_a")
        env = self.env()
        env["MQCHAT_MQTT"] = "no:such:port"
        for cmd, extra in (("send", ["--conv", "c1", "x"]), ("req", ['{"op":"convs"}']),
                           ("listen", []), ("chat", [])):
            r = subprocess.run([CLI, cmd, "--user", "bm_a"] + extra, capture_output=True,
                               text=True, timeout=30, env=env, input="/quit\n")
            self.assertEqual(r.returncode, 2, (cmd, r.stdout, r.stderr))
            self.assertIn("bad $MQCHAT_MQTT", r.stderr)
        r = subprocess.run(self.argv("req", "bm_a", '{"op":"convs"}'), capture_output=True,
                           text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Other usage errors: 2; a broker that is not there: 1.
        for args in (["send", "--user", "bm_a", "--timeout", "0", "--conv", "c", "x"],
                     ["req", "--user", "bm_a", "not json"],
                     ["chat", "--user", "bm_a", "--bogus"],
                     ["listen", "--user", "bm_a", "--count", "0"]):
            r = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=30,
                               env=self.env())
            self.assertEqual(r.returncode, 2, (args, r.stderr))
        r = subprocess.run([CLI, "req", "--user", "bm_a", "--mqtt", "127.0.0.1:1", "--timeout",
                            "1", '{"op":"convs"}'], capture_output=True, text=True, timeout=30,
                           env=self.env())
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_listen_prints_event_json(self):
        self.users("ls_a", "ls_b")
        conv = self.direct("ls_a", "ls_b")
        p = subprocess.Popen(self.argv("listen", "ls_b", "--count", "1"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env())
        errs = queue.Queue()
        reader = threading.Thread(target=lambda: [errs.put(l) for l in p.stderr], daemon=True)
        reader.start()
        seen = []
        try:
            def listening():
                while not errs.empty():
                    seen.append(errs.get())
                if p.poll() is not None:
                    raise AssertionError("listen exited early: %r" % seen)
                return any("listening as ls_b" in l for l in seen)
            wait_for(listening, what="listen to subscribe")
            alice = self.stack.client("ls_a", PW)
            alice.publish("chat/c/%s/send" % conv, json.dumps({"id": "ls-1", "body": "yo"}))
            out, _ = p.communicate(timeout=DEFAULT_TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0)
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 1, out)
        ev = json.loads(lines[0])
        self.assertEqual(ev["t"], "msg")
        self.assertEqual((ev["conv"], ev["from"], ev["id"], ev["body"]),
                         (conv, "ls_a", "ls-1", "yo"))

    def test_chat_through_a_pipe(self):
        self.users("ch_a", "ch_b")
        bob = self.inbox("ch_b")
        script = "/open ch_b\nhello from the terminal\n/quit\n"
        r = self.mq("chat", "ch_a", input=script)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        m = bob.expect(lambda m: payload(m).get("t") == "msg", what="the chat line at bob")
        ev = payload(m)
        self.assertEqual(ev["from"], "ch_a")
        self.assertEqual(ev["body"], "hello from the terminal")
        self.assertTrue(ev["conv"].startswith("d-"), ev)
        # The client printed the conversation list, the open, and the echo.
        self.assertIn("conversations:", r.stdout)
        self.assertIn("now in %s" % ev["conv"], r.stdout)
        self.assertIn("[%s] ch_a: hello from the terminal (seq 1) - sent" % ev["conv"],
                      r.stdout)

    def test_chat_join_history_read(self):
        self.users("jr_a", "jr_b")
        conv = self.direct("jr_a", "jr_b")
        bob = self.inbox("jr_b")
        bob.publish("chat/c/%s/send" % conv, json.dumps({"id": "jr-1", "body": "hi alice"}))
        bob.expect(lambda m: payload(m).get("t") == "msg", what="bob's own echo")
        script = "/join %s\n/history 10\n/read\n/quit\n" % conv
        r = self.mq("chat", "jr_a", input=script)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("unread 1", r.stdout)
        self.assertIn("[%s] jr_b: hi alice (seq 1)" % conv, r.stdout)
        self.assertIn("(beginning of conversation)", r.stdout)
        self.assertIn("marked read up to 1", r.stdout)
        rc = bob.expect(lambda m: payload(m).get("t") == "receipt", what="alice's read receipt")
        ev = payload(rc)
        self.assertEqual((ev["conv"], ev["user"], ev["type"], ev["seq"]),
                         (conv, "jr_a", "read", 1))

    def test_chat_message_without_conversation(self):
        self.users("ch_lonely")
        r = self.mq("chat", "ch_lonely", input="nobody hears this\n/quit\n")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("no conversation open", r.stdout)
        self.assertIn("(no conversations)", r.stdout)

    def state_file(self, user):
        return os.path.join(self.state_dir, "%s@127.0.0.1_%d.state" %
                            (user, self.stack.broker.port))

    def chat(self, user, script="/quit\n"):
        r = self.mq("chat", user, input=script)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        return r

    def test_chat_shows_what_arrived_while_away(self):
        self.users("aw_a", "aw_b")
        conv = self.direct("aw_b", "aw_a")
        # First start on this device: no position yet, so nothing to show;
        # the current one is saved, privately.
        r = self.chat("aw_a")
        self.assertNotIn("while you were away", r.stdout)
        self.assertIn("conversations:", r.stdout)
        st = os.stat(self.state_file("aw_a"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.state_dir).st_mode), 0o700)
        # Away: the other user sends three messages.
        for i in (1, 2, 3):
            s = self.mq("send", "aw_b", "--conv", conv, "away %d" % i)
            self.assertEqual(s.returncode, 0, s.stderr)
        r = self.chat("aw_a")
        lines = r.stdout.splitlines()
        header = "--- while you were away (3) ---"
        self.assertEqual(lines.count(header), 1, r.stdout)
        i = lines.index(header)
        self.assertEqual(lines[i + 1:i + 5],
                         ["[%s] aw_b: away %d (seq %d)" % (conv, n, n) for n in (1, 2, 3)] +
                         ["--- end of what you missed ---"], r.stdout)
        self.assertEqual(sum(1 for l in lines if "aw_b: away" in l), 3, r.stdout)
        # ... before the conversation list.
        self.assertLess(i, lines.index("conversations:"), r.stdout)
        # Seen now: the next start shows nothing again.
        r = self.chat("aw_a")
        self.assertIn("--- nothing new while you were away ---", r.stdout)
        self.assertNotIn("away 1", r.stdout)
        # What this device sends and sees live is not shown again next time.
        r = self.chat("aw_a", "/join %s\nback again\n/quit\n" % conv)
        self.assertIn("[%s] aw_a: back again (seq 4) - sent" % conv, r.stdout)
        r = self.chat("aw_a")
        self.assertIn("--- nothing new while you were away ---", r.stdout)
        self.assertNotIn("back again", r.stdout)
        # --no-sync: nothing about sync, and the position stays where it was.
        before = open(self.state_file("aw_a")).read()
        s = self.mq("send", "aw_b", "--conv", conv, "while unsynced")
        self.assertEqual(s.returncode, 0, s.stderr)
        r = self.chat_args("aw_a", "--no-sync")
        self.assertNotIn("while you were away", r.stdout)
        self.assertEqual(open(self.state_file("aw_a")).read(), before)
        r = self.chat("aw_a")
        self.assertIn("--- while you were away (1) ---", r.stdout)
        self.assertIn("[%s] aw_b: while unsynced (seq 5)" % conv, r.stdout)

    def chat_args(self, user, *args):
        r = self.mq("chat", user, *args, input="/quit\n")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        return r

    def test_chat_bad_saved_position_starts_fresh(self):
        self.users("bt_a", "bt_b", "bt_other")
        conv = self.direct("bt_b", "bt_a")
        # Garbage in the file: said on stderr, started fresh.
        with open(self.state_file("bt_a"), "w") as f:
            f.write("\x00\x01 not a state file\n")
        r = self.chat("bt_a")
        self.assertIn("not an mqchat state file: starting fresh", r.stderr)
        self.assertNotIn("while you were away", r.stdout)
        # Another user's token: the server refuses it (bad_request), the
        # client says so, starts fresh and saves a good position.
        _, res = self.req("bt_other", {"op": "sync"})
        with open(self.state_file("bt_a"), "w") as f:
            f.write("mqchat-state 1\ntoken %s\n" % res["next"])
        r = self.chat("bt_a")
        self.assertIn("refused the saved sync position", r.stdout)
        self.assertIn("starting fresh", r.stdout)
        self.assertNotIn("while you were away (", r.stdout)
        s = self.mq("send", "bt_b", "--conv", conv, "after the fresh start")
        self.assertEqual(s.returncode, 0, s.stderr)
        r = self.chat("bt_a")
        self.assertIn("--- while you were away (1) ---", r.stdout)
        self.assertIn("[%s] bt_b: after the fresh start (seq 1)" % conv, r.stdout)


if __name__ == "__main__":
    main()
