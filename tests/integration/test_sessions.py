"""Device sessions (issue 17, PROTOCOL.md "Device sessions"): a device
signed in with a password asks for a session token and later connects with
it (MQTT username = user id, password = the token) on any node, after a
restart; another user's token, a revoked, expired, rotated or logged-out
session, garbage and over-long tokens are refused at CONNECT (CONNACK 5,
not authorised); ending a session (revoke, `mqchat user revoke`, a password
change, `user del`) disconnects the live devices using it within a second,
on every node. Two brokers share one Redis; Redis is read raw through the
harness."""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import urllib.request

from harness import (CLI, DEFAULT_TIMEOUT, SANITIZE, Chat, Cluster, Stack, free_port, main,
                     wait_for)

NOT_AUTHORISED = 5
KICK_DEADLINE = 1.0 * (3 if SANITIZE else 1)
DAY_MS = 86400 * 1000


class SessionsTest(unittest.TestCase):
    def setUp(self):
        self.cl = Cluster(2, {"presence_grace_ms": 0}).__enter__()
        self.addCleanup(self.cl.__exit__, None, None, None)
        for u in ("alice", "bob"):
            self.cl.add_user(u, u + "-pw")
        self.r = self.cl.redis.call

    def pw(self, user, node=0):
        return Chat(self.cl.node(node), user, user + "-pw")

    def token_chat(self, user, token, node=0):
        return Chat(self.cl.node(node), user, token)

    def connack(self, user, password, node=0):
        c = self.cl.node(node).client(user, password, connect=False)
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        rc = c.connect()
        while rc is None and time.monotonic() < deadline:  # busy: retry
            time.sleep(0.05)
            rc = c.connect()
        c.close()
        return rc

    def new_session(self, chat, **fields):
        res = chat.ok("session", **fields)
        self.assertTrue(res["token"].startswith("s1."))
        self.assertLessEqual(len(res["token"]), 200)
        return res

    def wait_kicked(self, chat, what):
        t0 = time.monotonic()
        wait_for(chat.c.disconnected.is_set, timeout=DEFAULT_TIMEOUT, what=what)
        return time.monotonic() - t0

    def test_token_login_on_any_node_and_listing(self):
        alice = self.pw("alice", 0)
        before = int(time.time() * 1000)
        res = self.new_session(alice, device="Pixel 8 \u2603")
        self.assertTrue(before + 89 * DAY_MS < res["expires"] <= before + 91 * DAY_MS + 5000)
        # The token works on the other node, without the password.
        dev = self.token_chat("alice", res["token"], node=1)
        items = dev.ok("sessions")["items"]
        self.assertEqual(len(items), 1)
        it = items[0]
        self.assertEqual((it["device"], it["label"], it["current"]),
                         (res["device"], "Pixel 8 \u2603", True))
        self.assertEqual(it["expires"], res["expires"])
        self.assertLessEqual(it["created"], it["last_used"])
        # The password connection that asked is tied to the device too.
        self.assertTrue(alice.ok("sessions")["items"][0]["current"])
        # A device that asks again without a token gets a second device.
        other = self.pw("alice", 1)
        res2 = self.new_session(other)
        self.assertNotEqual(res2["device"], res["device"])
        items = {i["device"]: i for i in dev.ok("sessions")["items"]}
        self.assertEqual(set(items), {res["device"], res2["device"]})
        self.assertEqual(items[res2["device"]]["label"], "")
        self.assertFalse(items[res2["device"]]["current"])
        # Only a hash is stored: the token's secret is nowhere in Redis.
        stored = self.r("HGET", "mqchat:{u:alice}:sess", res["device"]).decode()
        self.assertNotIn(res["token"].split(".")[2], stored)
        # Bad labels are refused.
        e = alice.req("session", device="x" * 65)
        self.assertEqual((e["t"], e["code"]), ("err", "bad_request"))
        e = alice.req("session", device=5)
        self.assertEqual((e["t"], e["code"]), ("err", "bad_request"))

    def test_token_of_another_user_refused(self):
        alice = self.pw("alice")
        tok = self.new_session(alice)["token"]
        self.assertEqual(self.connack("bob", tok), NOT_AUTHORISED)
        self.assertEqual(self.connack("bob", tok, node=1), NOT_AUTHORISED)
        # Even a record under bob's key with alice's hash does not help.
        dev = tok.split(".")[1]
        rec = self.r("HGET", "mqchat:{u:alice}:sess", dev)
        self.r("HSET", "mqchat:{u:bob}:sess", dev, rec)
        self.assertEqual(self.connack("bob", tok), NOT_AUTHORISED)
        self.assertEqual(self.connack("alice", tok), 0)

    def test_garbage_and_overlong_tokens_refused(self):
        alice = self.pw("alice")
        tok = self.new_session(alice)["token"]
        dev, secret = tok.split(".")[1], tok.split(".")[2]
        flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        bad = [
            "s1." + "A" * 11 + "." + "B" * 43,        # well-formed, unknown device
            "s1.%s.%s" % (dev, flipped),               # right device, wrong secret
            "s1.%s.%s" % (dev, secret[:-1]),            # one short
            "s1.%s.%s=" % (dev, secret),                # one long
            "s1.%s+%s" % (dev, secret),                 # no dot
            "s1." + "\u00e9" * 27 + "." + "C" * 1,      # not base64url
            "s1." + "A" * 197,                         # 200 characters
            "s1." + "A" * 4000,                        # far over-long
            "s1.",
        ]
        for b in bad:
            self.assertEqual(self.connack("alice", b), NOT_AUTHORISED, b[:80])
        # The broker and the real token are unharmed.
        self.assertEqual(self.connack("alice", tok, node=0), 0)
        self.assertTrue(self.cl.brokers[0].alive() and self.cl.brokers[1].alive())

    def test_rotation_replaces_the_token(self):
        alice = self.pw("alice")
        first = self.new_session(alice, device="laptop")
        dev = self.token_chat("alice", first["token"], node=1)
        second = self.new_session(dev)  # over a token login: rotates
        self.assertEqual(second["device"], first["device"])
        self.assertNotEqual(second["token"], first["token"])
        self.assertEqual(self.connack("alice", first["token"]), NOT_AUTHORISED)
        self.assertEqual(self.connack("alice", second["token"], node=0), 0)
        items = dev.ok("sessions")["items"]
        self.assertEqual(len(items), 1)
        self.assertEqual((items[0]["label"], items[0]["current"]), ("laptop", True))
        # The rotating device itself stays connected.
        self.assertFalse(dev.c.disconnected.is_set())

    def test_expired_session_refused(self):
        alice = self.pw("alice")
        res = self.new_session(alice)
        key = "mqchat:{u:alice}:sess"
        rec = self.r("HGET", key, res["device"]).decode().split("\t")
        rec[3] = str(int(time.time() * 1000) - 1)  # expires: just now
        self.r("HSET", key, res["device"], "\t".join(rec))
        self.assertEqual(self.connack("alice", res["token"]), NOT_AUTHORISED)
        self.assertEqual(alice.ok("sessions")["items"], [])
        # A new session prunes the expired record.
        res2 = self.new_session(self.pw("alice", 1))
        self.assertEqual([k.decode() for k in self.r("HKEYS", key)], [res2["device"]])

    def test_at_most_100_sessions_per_user(self):
        alice = self.pw("alice")
        mine = self.new_session(alice)
        dev = self.token_chat("alice", mine["token"], node=1)
        far = str(int(time.time() * 1000) + DAY_MS)
        rec = "h" * 43 + "\t1\t1\t" + far + "\tfiller"
        self.r("HSET", "mqchat:{u:alice}:sess",
               *[x for i in range(99) for x in ("F%010d" % i, rec)])
        e = self.pw("alice", 1).req("session")
        self.assertEqual((e["t"], e["code"]), ("err", "forbidden"))
        # Rotating an existing one is still fine; so is a new one after a revoke.
        self.new_session(dev)
        alice.ok("revoke", device="F0000000000")
        self.new_session(self.pw("alice", 1))
        self.assertEqual(self.r("HLEN", "mqchat:{u:alice}:sess"), 100)

    def test_revoke_kicks_a_live_device_on_another_node(self):
        alice = self.pw("alice", 0)
        phone = self.new_session(self.pw("alice", 1), device="phone")
        live = self.token_chat("alice", phone["token"], node=1)
        e = alice.req("revoke", device="AAAAAAAAAAA")
        self.assertEqual((e["t"], e["code"]), ("err", "not_found"))
        e = alice.req("revoke", device="../etc")
        self.assertEqual((e["t"], e["code"]), ("err", "bad_request"))
        # bob cannot revoke alice's device.
        bob = self.pw("bob", 0)
        e = bob.req("revoke", device=phone["device"])
        self.assertEqual((e["t"], e["code"]), ("err", "not_found"))
        self.assertFalse(live.c.disconnected.is_set())
        t0 = time.monotonic()
        alice.ok("revoke", device=phone["device"])
        wait_for(live.c.disconnected.is_set, what="the revoked device to be disconnected")
        took = time.monotonic() - t0
        self.assertLess(took, KICK_DEADLINE, "kicked after %.3f s" % took)
        self.assertEqual(self.connack("alice", phone["token"], node=1), NOT_AUTHORISED)
        # The password connections stay.
        self.assertFalse(alice.c.disconnected.is_set())
        self.assertEqual(alice.ok("sessions")["items"], [])

    def test_logout_ends_only_that_session(self):
        a = self.new_session(self.pw("alice", 0))
        b = self.new_session(self.pw("alice", 1))
        dev_a = self.token_chat("alice", a["token"], node=0)
        dev_b = self.token_chat("alice", b["token"], node=1)
        dev_a.ok("logout")
        self.assertEqual(self.connack("alice", a["token"]), NOT_AUTHORISED)
        self.assertEqual(self.connack("alice", b["token"]), 0)
        self.assertEqual([i["device"] for i in dev_b.ok("sessions")["items"]], [b["device"]])
        self.assertFalse(dev_b.c.disconnected.is_set())
        # A password login has no session: logout is a no-op there.
        self.pw("bob").ok("logout")

    def test_password_change_ends_every_session(self):
        a = self.new_session(self.pw("alice", 0))
        b = self.new_session(self.pw("alice", 1))
        bob = self.new_session(self.pw("bob", 1))
        dev_a = self.token_chat("alice", a["token"], node=0)
        dev_b = self.token_chat("alice", b["token"], node=1)
        dev_bob = self.token_chat("bob", bob["token"], node=0)
        t0 = time.monotonic()
        res = self.cl.cli("user", "passwd", "alice", "--password-stdin", input="new-pw\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        for d in (dev_a, dev_b):
            wait_for(d.c.disconnected.is_set, what="alice's token devices to be disconnected")
        took = time.monotonic() - t0
        self.assertLess(took, KICK_DEADLINE + 0.5, "kicked after %.3f s" % took)  # incl. CLI start
        for t in (a["token"], b["token"]):
            self.assertEqual(self.connack("alice", t), NOT_AUTHORISED)
        self.assertEqual(self.connack("alice", "new-pw"), 0)
        self.assertEqual(self.connack("alice", "alice-pw"), NOT_AUTHORISED)
        # bob's session is untouched.
        self.assertFalse(dev_bob.c.disconnected.is_set())
        self.assertEqual(self.connack("bob", bob["token"], node=1), 0)

    def test_cli_sessions_revoke_and_user_del(self):
        a = self.new_session(self.pw("alice", 0), device="work laptop")
        b = self.new_session(self.pw("alice", 1), device="phone")
        out = self.cl.cli("user", "sessions", "alice")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = sorted(out.stdout.strip().split("\n"))
        self.assertEqual(len(lines), 2)
        by_dev = {l.split("\t")[0]: l.split("\t") for l in lines}
        self.assertEqual(by_dev[a["device"]][1], "work laptop")
        self.assertEqual(len(by_dev[b["device"]]), 5)
        live = self.token_chat("alice", a["token"], node=1)
        res = self.cl.cli("user", "revoke", "alice", a["device"])
        self.assertEqual(res.returncode, 0, res.stderr)
        wait_for(live.c.disconnected.is_set, what="the revoked device to be disconnected")
        self.assertEqual(self.connack("alice", a["token"]), NOT_AUTHORISED)
        res = self.cl.cli("user", "revoke", "alice", a["device"])
        self.assertNotEqual(res.returncode, 0)
        self.assertEqual(self.cl.cli("user", "revoke", "alice", "nope").returncode, 2)
        res = self.cl.cli("user", "revoke", "alice", "--all")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("ended 1 session", res.stdout)
        self.assertEqual(self.connack("alice", b["token"]), NOT_AUTHORISED)
        self.assertEqual(self.cl.cli("user", "sessions", "alice").stdout, "")
        # user del ends sessions too.
        c = self.new_session(self.pw("alice", 0))
        dev_c = self.token_chat("alice", c["token"], node=1)
        self.assertEqual(self.cl.cli("user", "del", "alice").returncode, 0)
        wait_for(dev_c.c.disconnected.is_set, what="the deleted user's device to go")
        self.assertEqual(self.connack("alice", c["token"]), NOT_AUTHORISED)

    def test_token_survives_broker_restart(self):
        res = self.new_session(self.pw("alice", 0))
        for b in self.cl.brokers:
            b.kill9_restart()
        for b in self.cl.brokers:
            wait_for(lambda: b.alive(), what="restart")
        self.assertEqual(self.connack("alice", res["token"], node=0), 0)
        self.assertEqual(self.connack("alice", res["token"], node=1), 0)


    def test_terminal_client_keeps_the_token_not_the_password(self):
        state = tempfile.mkdtemp(prefix="mqc-sess-state-")
        self.addCleanup(shutil.rmtree, state, True)

        def chat(script, password=None):
            env = dict(os.environ, MQCHAT_STATE_DIR=state)
            env.pop("MQCHAT_MQTT", None)
            env.pop("MQCHAT_PASSWORD", None)
            if password:
                env["MQCHAT_PASSWORD"] = password
            # A session of its own: no terminal to prompt on.
            return subprocess.run([CLI, "chat", "--user", "alice", "--mqtt",
                                   "127.0.0.1:%d" % self.cl.brokers[0].port],
                                  input=script, capture_output=True, text=True, timeout=60,
                                  env=env, start_new_session=True)

        def kept():
            files = glob.glob(os.path.join(state, "alice@*.state"))
            self.assertEqual(len(files), 1, files)
            with open(files[0]) as f:
                text = f.read()
            self.assertNotIn("alice-pw", text)
            line = [l for l in text.splitlines() if l.startswith("session ")]
            return line[0].split(" ", 1)[1] if line else None

        r = chat("/quit\n", password="alice-pw")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("this device stays signed in", r.stdout)
        token = kept()
        self.assertTrue(token and token.startswith("s1."), token)
        items = self.pw("alice").ok("sessions")["items"]
        self.assertTrue(items[0]["label"].startswith("mqchat on "), items)
        # Next run: no password anywhere, signed in with the kept token (the
        # state file is per broker address: same node).
        r = chat("/quit\n")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("signed in as alice (this device's session)", r.stdout)
        # /logout ends it on the server and here.
        r = chat("/logout\n")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("signed out of this device", r.stdout)
        self.assertIsNone(kept())
        self.assertEqual(self.connack("alice", token), NOT_AUTHORISED)
        r = chat("/quit\n")  # nothing kept, no password: cannot sign in
        self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
        # A kept token revoked meanwhile: the password is asked (here from
        # the environment) and a new session kept.
        r = chat("/quit\n", password="alice-pw")
        first = kept()
        dev = first.split(".")[1]
        self.assertEqual(self.cl.cli("user", "revoke", "alice", dev).returncode, 0)
        r = chat("/quit\n", password="alice-pw")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("session has ended", r.stderr)
        second = kept()
        self.assertTrue(second and second != first)
        self.assertEqual(self.connack("alice", second), 0)


class SessionMetricsTest(unittest.TestCase):
    """Token logins count as mqchat_logins_total{method="token",...}."""

    def scrape(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1])
                for l in text.splitlines() if l and not l.startswith("#")}

    def test_token_logins_counted(self):
        self.port = free_port()
        st = Stack({"metrics_listen": "127.0.0.1:%d" % self.port}).__enter__()
        self.addCleanup(st.close)
        st.add_user("alice", "alice-pw")
        tok = Chat(st, "alice", "alice-pw").ok("session")["token"]
        before = wait_for(lambda: self.try_scrape(), what="the metrics endpoint")
        st.client("alice", tok)
        bad = st.client("alice", "s1." + "A" * 11 + "." + "B" * 43, connect=False)
        self.assertEqual(bad.connect(), 5)
        after = self.scrape()
        for result, n in (("ok", 1), ("fail", 1)):
            k = 'mqchat_logins_total{method="token",result="%s"}' % result
            self.assertEqual(after.get(k, 0) - before.get(k, 0), n, k)
        k = 'mqchat_logins_total{method="password",result="fail"}'
        self.assertEqual(after.get(k, 0) - before.get(k, 0), 0)

    def try_scrape(self):
        try:
            return self.scrape()
        except OSError:
            return None


if __name__ == "__main__":
    main()
