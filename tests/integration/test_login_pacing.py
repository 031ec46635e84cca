"""Login pacing (ARCHITECTURE.md, "Login pacing"): a storm of 2,000 device
token logins sent back to back over loopback, as after a broker restart. The
broker takes logins per loop pass only up to plugin_opt_login_budget_ms of
its thread (or while Redis keeps up); the rest are closed without a CONNACK,
the "busy" answer of docs/PROTOCOL.md, and the clients retry with jittered
backoff. Checked: some logins were paced, none was refused (no CONNACK 5, no
other code), every one is in before a deadline after retries, and a chat
between two users keeps flowing through the storm with nothing lost,
doubled or reordered. No assertion on timing: latency is measured by
bench/run (S5 --s5-tokens), not here."""
import os
import random
import selectors
import socket
import subprocess
import sys
import time
import unittest

from harness import SANITIZE, Chat, Stack, connect_packet, free_port, main, wait_for
from test_metrics import scrape

STORM = 1000 if SANITIZE else 2000  # ASan: ~4x slower (300 s test timeout)
SECRET = "pacing-test-secret-0123456789abcdef"
TOKENS_TOOL = os.environ.get("MQCHAT_BENCH_TOKENS", "")


def mint(st, users):
    """Device session records for users (no accounts), made by the bench's
    mqc_bench_tokens exactly as the session request makes them; returns
    {user: token}."""
    out = os.path.join(st.dir, "tokens")
    env = dict(os.environ, MQC_BENCH_SESSION_SECRET=SECRET)
    # Bytes, not text: the RESP must keep its \r\n.
    resp = subprocess.run([TOKENS_TOOL, "--out", out], input=("\n".join(users) + "\n").encode(),
                          capture_output=True, env=env, timeout=60, check=True).stdout
    r = subprocess.run(["redis-cli", "-p", str(st.redis.port), "--pipe"], input=resp,
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and b"errors: 0" in r.stdout, r.stdout + r.stderr
    with open(out) as f:
        return dict(line.split() for line in f if line.strip())


class Storm:
    """Non-blocking MQTT 3.1.1 logins of many users at once, each retried
    after a close without CONNACK with a jittered, doubling wait (50 ms to
    1 s), as docs/PROTOCOL.md asks of clients."""

    def __init__(self, port, tokens):
        self.port, self.tokens = port, tokens
        self.sel = selectors.DefaultSelector()
        self.codes = {}        # user -> CONNACK code
        self.busy = 0          # closes without CONNACK
        self.tries = {}        # user -> closes in a row
        self.due = []          # (time, user) retries
        self.held = []         # sockets of users in (kept open to the end)

    def open(self, user):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        s.sendall(connect_packet(user, self.tokens[user], "pace-" + user))
        self.sel.register(s, selectors.EVENT_READ, [user, b""])

    def start(self):
        for u in self.tokens:
            self.open(u)

    def step(self, timeout=0.01):
        now = time.monotonic()
        for t, u in [d for d in self.due if d[0] <= now]:
            self.due.remove((t, u))
            self.open(u)
        for key, _ in self.sel.select(timeout):
            s, (user, buf) = key.fileobj, key.data
            try:
                part = s.recv(4 - len(buf))
            except (ConnectionResetError, BlockingIOError) as e:
                if isinstance(e, BlockingIOError):
                    continue
                part = b""
            if part:
                key.data[1] = buf = buf + part
                if len(buf) < 4:
                    continue
                assert buf[:2] == b"\x20\x02", buf
                self.codes[user] = buf[3]
                self.sel.unregister(s)
                self.held.append(s)
                continue
            self.sel.unregister(s)
            s.close()
            self.busy += 1
            n = self.tries.get(user, 0)
            self.tries[user] = n + 1
            w = min(0.05 * 2 ** n, 1.0)
            self.due.append((time.monotonic() + random.uniform(w / 2, w), user))

    def done(self):
        return len(self.codes) == len(self.tokens)

    def close(self):
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        for s in self.held:
            s.close()
        self.sel.close()


class LoginPacingTest(unittest.TestCase):
    def storm_with_probe(self, options, metrics=None):
        """Runs the storm; returns (busy closes, broker log); metrics, a
        dict, gets the broker's metrics scraped at the end."""
        opts = dict(session_secret=SECRET, **options)
        mport = free_port()
        opts["metrics_listen"] = "127.0.0.1:%d" % mport
        with Stack(opts) as st:
            st.add_user("alice", "alice-pw")
            st.add_user("bob", "bob-pw")
            alice, bob = Chat(st, "alice", "alice-pw"), Chat(st, "bob", "bob-pw")
            conv = alice.direct("bob")
            tokens = mint(st, ["p%d" % i for i in range(STORM)])
            storm = Storm(st.broker.port, tokens)
            sent = []
            try:
                storm.start()
                deadline = time.monotonic() + 240
                next_probe = 0.0
                while not storm.done():
                    self.assertLess(time.monotonic(), deadline,
                                    "%d of %d logins in" % (len(storm.codes), STORM))
                    if time.monotonic() >= next_probe:
                        mid = "m%d" % len(sent)
                        alice.send(conv, mid, "probe %d" % len(sent), wait=False)
                        sent.append(mid)
                        next_probe = time.monotonic() + 0.02
                    storm.step()
                refused = {u: c for u, c in storm.codes.items() if c != 0}
                self.assertEqual(refused, {}, "no login may be refused, only paced")
                # The probe: every message once, in order (a generous bound
                # on completeness only; its latency is bench/run's business).
                got = []
                while len(got) < len(sent):
                    e = bob.event(lambda e: e.get("t") == "msg" and e.get("conv") == conv,
                                  timeout=30, what="probe %d of %d" % (len(got), len(sent)))
                    got.append(e["id"])
                self.assertEqual(got, sent)
                self.assertTrue(st.broker.alive())
                print("\n%d logins, %d busy closes, %d probe messages" %
                      (STORM, storm.busy, len(sent)), file=sys.stderr)
                if metrics is not None:
                    metrics.update(scrape(mport))
                return storm.busy, st.broker.log_text()
            finally:
                storm.close()

    def test_storm_is_paced_and_nobody_refused(self):
        m = {}
        busy, log = self.storm_with_probe({"login_budget_ms": "1", "login_reads_per_pass": "0"},
                                          m)
        self.assertGreater(busy, 0, "a 2,000-login storm was never paced")
        self.assertIn("auth: busy: login budget of this loop pass spent", log)
        self.assertGreater(m['mqchat_logins_busy_total{reason="login_budget"}'], 0)
        self.assertEqual(m['mqchat_logins_busy_total{reason="session_reads"}'], 0)

    def test_pacing_off_answers_everyone_at_once(self):
        busy, log = self.storm_with_probe({"login_budget_ms": "0", "login_lag_ms": "0",
                                           "login_reads_per_pass": "0"})
        self.assertEqual(busy, 0)
        self.assertNotIn("auth: busy:", log)

    def test_storm_with_defaults_limits_reads_retries_use_fetched_records(self):
        """With the defaults (login_reads_per_pass 1 once more than
        login_storm_per_second 100 logins need a read), a storm is met by
        the read limit and the retries find their records fetched."""
        m = {}
        busy, log = self.storm_with_probe({}, m)
        self.assertGreater(busy, 0, "a 2,000-login storm never met the read limit")
        self.assertIn("auth: busy: session reads of this loop pass spent", log)
        self.assertIn("auth: session record fetched ahead", log)
        self.assertGreater(m['mqchat_logins_busy_total{reason="session_reads"}'], 0)
        self.assertGreater(m["mqchat_logins_prefetched_total"], 0)
        # Every busy close the clients saw is one the broker counted.
        self.assertEqual(m['mqchat_logins_total{method="token",result="busy"}'], busy)

    def test_everyday_logins_are_never_busy(self):
        """Below login_storm_per_second, token logins arriving together are
        all read at once: nobody is answered busy. With the threshold at 0
        the same burst meets the read limit (so the check can fail)."""
        for threshold, expect_busy in (("100", False), ("0", True)):
            with self.subTest(login_storm_per_second=threshold):
                with Stack(dict(session_secret=SECRET, login_storm_per_second=threshold)) as st:
                    storm = Storm(st.broker.port, mint(st, ["e%d" % i for i in range(90)]))
                    try:
                        storm.start()
                        deadline = time.monotonic() + 60
                        while not storm.done():
                            self.assertLess(time.monotonic(), deadline, "burst answered")
                            storm.step()
                        self.assertEqual(set(storm.codes.values()), {0})
                    finally:
                        storm.close()
                    self.assertEqual(storm.busy > 0, expect_busy, "busy closes: %d" % storm.busy)
                    if not expect_busy:
                        self.assertNotIn("auth: busy:", st.broker.log_text())

    def test_session_ended_between_fetch_and_retry_is_refused(self):
        """A login closed busy has its record fetched; if the session ends
        before the client's retry, the retry must not use that record."""
        with Stack(dict(session_secret=SECRET, login_reads_per_pass="1",
                        login_storm_per_second="0")) as st:
            busy_users = []
            for attempt in range(5):
                users = ["r%d_%d" % (attempt, i) for i in range(50)]
                tokens = mint(st, users)
                storm = Storm(st.broker.port, tokens)
                try:
                    storm.start()
                    deadline = time.monotonic() + 30
                    while len(storm.codes) + storm.busy < len(users):
                        self.assertLess(time.monotonic(), deadline, "burst answered")
                        storm.due.clear()  # no retries: the busy ones wait for the test
                        storm.step()
                    busy_users = [u for u in users if u not in storm.codes]
                finally:
                    storm.close()
                if len(busy_users) >= 2:
                    break
            self.assertGreaterEqual(len(busy_users), 2, "no burst met the read limit")
            gone, kept = busy_users[0], busy_users[1]
            # The fetch of gone's record has been answered (or is in flight:
            # then it reads after the end, which refuses too).
            st.cli("user", "revoke", gone, "--all")
            wait_for(lambda: "session ended: disconnected 0 device(s) (user=%s " % gone in
                     st.broker.log_text(), what="the broker to hear of the ended session")
            retry = Storm(st.broker.port, {gone: tokens[gone], kept: tokens[kept]})
            try:
                retry.start()
                deadline = time.monotonic() + 30
                while not retry.done():
                    self.assertLess(time.monotonic(), deadline, "retries answered")
                    retry.step()
                self.assertEqual(retry.codes, {gone: 5, kept: 0})
            finally:
                retry.close()


if __name__ == "__main__":
    if not TOKENS_TOOL:
        raise SystemExit("MQCHAT_BENCH_TOKENS must be set (run through ctest)")
    main()
