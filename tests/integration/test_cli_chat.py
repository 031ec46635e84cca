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
import signal
import threading
import time
import unittest

from harness import CLI, DEFAULT_TIMEOUT, Stack, main, wait_for

PW = "pw-cli-chat"


def payload(m):
    return json.loads(m.payload.decode())


class ChatProc:
    """`mqchat chat` driven line by line through a pipe, its output
    collected by a thread, so a test can wait for a line before typing the
    next one."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def out(self):
        with self.lock:
            return list(self.lines)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait(self, pred, what):
        """Wait for an output line for which pred holds; return it."""
        def found():
            if self.p.poll() is not None and not self.reader.is_alive():
                raise AssertionError("chat exited waiting for %s: %r" % (what, self.out()))
            return next((l for l in self.out() if pred(l)), None)
        return wait_for(found, what=what)

    def wait_text(self, text):
        return self.wait(lambda l: text in l, repr(text))

    def quit(self):
        """/quit; returns (exit code, stderr)."""
        self.send("/quit")
        self.p.stdin.close()
        self.p.wait(timeout=60)
        self.reader.join(timeout=10)
        return self.p.returncode, self.p.stderr.read()

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
        self.reader.join(timeout=10)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


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

    def chat_proc(self, user, *args):
        p = ChatProc(self.argv("chat", user, *args), self.env())
        self.addCleanup(p.kill)
        return p

    def test_chat_join_is_checked(self):
        # /join of a conversation that is not mine: refused, the prompt stays,
        # no stray error lines, and /quit stays quiet.
        self.users("jc_a", "jc_b")
        conv = self.direct("jc_b", "jc_a")
        r = self.chat("jc_a", "/join no-such-conv\nanybody there?\n/join %s\n/leave\n"
                      "/quit\n" % conv)
        out = r.stdout
        self.assertIn("/join no-such-conv: no such conversation among yours", out)
        self.assertNotIn("now in no-such-conv", out)
        self.assertIn("no conversation open", out)
        self.assertNotIn("error", out)
        self.assertNotIn("given up", out + r.stderr)
        # /join of mine: opened, with what it is.
        self.assertIn("now in %s:" % conv, out)
        self.assertIn("direct  with jc_b", out)
        # /leave in a direct chat: said what is wrong, not "admins only".
        self.assertIn("/leave in %s: direct conversations cannot be left" % conv, out)
        self.assertNotIn("admin", out)
        # /help says so too.
        r = self.chat("jc_a", "/help\n/quit\n")
        self.assertIn("direct chats cannot be left", r.stdout)

    def test_chat_never_replays_what_was_shown(self):
        # A message shown live is in the state file within a second; a client
        # killed before its sync on quit does not show it again on the next
        # start, while a message it never saw still is.
        self.users("rp_a", "rp_b")
        conv = self.direct("rp_b", "rp_a")
        self.chat("rp_a")  # a saved position
        p = self.chat_proc("rp_a")
        p.wait_text("conversations:")
        s = self.mq("send", "rp_b", "--conv", conv, "seen live")
        self.assertEqual(s.returncode, 0, s.stderr)
        p.wait_text("rp_b: seen live (seq 1)")
        def saved():
            with open(self.state_file("rp_a")) as f:
                return "shown %s 1 1" % conv in f.read()
        wait_for(saved, what="the shown message in the state file")
        p.kill()
        s = self.mq("send", "rp_b", "--conv", conv, "while killed")
        self.assertEqual(s.returncode, 0, s.stderr)
        r = self.chat("rp_a")
        self.assertIn("--- while you were away (1) ---", r.stdout)
        self.assertIn("rp_b: while killed (seq 2)", r.stdout)
        self.assertNotIn("seen live", r.stdout)
        # That sync moved the position: neither comes again.
        r = self.chat("rp_a")
        self.assertIn("--- nothing new while you were away ---", r.stdout)

    def test_chat_read_once_marks_and_broadcast(self):
        self.users("mk_a", "mk_b")
        conv = self.direct("mk_a", "mk_b")
        bob = self.inbox("mk_b")
        p = self.chat_proc("mk_a")
        p.wait_text("conversations:")
        p.send("/join %s" % conv)
        p.wait_text("now in %s" % conv)
        p.send("hello bob")
        p.wait_text("mk_a: hello bob (seq 1) - sent")
        # bob's receipts move the mark of alice's message, one line each.
        bob.publish("chat/c/%s/receipt" % conv, json.dumps({"type": "delivered", "seq": 1}))
        p.wait_text("[%s] your messages up to seq 1: delivered to mk_b" % conv)
        bob.publish("chat/c/%s/receipt" % conv, json.dumps({"type": "read", "seq": 1}))
        p.wait_text("[%s] your messages up to seq 1: read by mk_b" % conv)
        # A message from bob: the client says delivered by itself.
        bob.publish("chat/c/%s/send" % conv, json.dumps({"id": "mk-1", "body": "hi alice"}))
        p.wait_text("mk_b: hi alice (seq 2)")
        m = bob.expect(lambda m: payload(m).get("t") == "receipt" and
                       payload(m).get("user") == "mk_a", what="alice's delivered receipt")
        self.assertEqual((payload(m)["type"], payload(m)["seq"]), ("delivered", 2))
        # /read: said once, its echo not printed again.
        p.send("/read")
        p.wait_text("marked read up to 2")
        bob.expect(lambda m: payload(m).get("t") == "receipt" and
                   payload(m).get("type") == "read", what="alice's read receipt")
        p.send("/convs")  # a round trip after the echo reached alice
        p.wait(lambda l: "%s  direct" % conv in l and "unread 0" in l, "the convs reply")
        self.assertEqual([l for l in p.out() if "read up to 2" in l], ["marked read up to 2"])
        # An operator's broadcast, readable.
        b = self.stack.cli("broadcast", "--text", "maintenance at 18:00")
        self.assertEqual(b.returncode, 0, b.stderr)
        p.wait_text("*** system: maintenance at 18:00")
        self.assertFalse([l for l in p.out() if "event system" in l or "{" in l], p.out())
        code, err = p.quit()
        self.assertEqual(code, 0, err)

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


class CliChatLimitTest(unittest.TestCase):
    """Errors that carry no reference (a refused receipt or typing notice)
    are told with what they answer, and never taken for the reply to a
    request: a broker with a tight request limit refuses receipts."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"rate_reqs": 3}).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def test_refused_receipts_told_in_context(self):
        self.stack.add_user("rl_a", PW)
        self.stack.add_user("rl_b", PW)
        env = dict(os.environ, MQCHAT_PASSWORD=PW)
        env.pop("MQCHAT_MQTT", None)
        port = "127.0.0.1:%d" % self.stack.broker.port
        r = subprocess.run([CLI, "req", "--user", "rl_b", "--mqtt", port,
                            json.dumps({"op": "create", "kind": "direct", "with": "rl_a"})],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        conv = json.loads(r.stdout)["conv"]
        bob = self.stack.client("rl_b", PW)
        bob.publish("chat/c/%s/send" % conv, json.dumps({"id": "rl-1", "body": "x"}))
        p = ChatProc([CLI, "chat", "--user", "rl_a", "--mqtt", port, "--no-sync"], env)
        self.addCleanup(p.kill)
        p.wait_text("conversations:")
        p.send("/join %s" % conv)
        p.wait_text("now in %s" % conv)
        for _ in range(10):
            p.send("/read")
        line = p.wait_text("(rate_limited)")
        self.assertTrue(line.startswith("read receipt in %s: " % conv), line)
        self.assertFalse([l for l in p.out() if l.startswith("error ")], p.out())


if __name__ == "__main__":
    main()
