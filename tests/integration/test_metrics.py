"""Prometheus metrics (plugin_opt_metrics_listen): GET /metrics on the
broker's metrics address counts exactly the stored messages, refused sends
by reason, logins by result, connected devices and store round trips; it
keeps answering while Redis is down, with mqchat_redis_up 0, and 1 again
once Redis is back. No user or conversation id appears in it."""
import re
import time
import unittest
import urllib.error
import urllib.request

from harness import Chat, Stack, free_port, main, wait_for

N = 25


def fetch(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def scrape(port):
    """{series: value}, e.g. 'mqchat_logins_total{method="password",result="ok"}': 2.0"""
    out = {}
    for line in fetch(port)[2].splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def delta(before, after, series):
    return after.get(series, 0) - before.get(series, 0)


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        # A quick heartbeat, so that the store notices a dead Redis at once.
        self.st = Stack({"metrics_listen": "127.0.0.1:%d" % self.port,
                         "node_timeout_ms": "300"})
        self.st.__enter__()
        self.addCleanup(self.st.close)
        wait_for(lambda: self.try_scrape(), what="the metrics endpoint")

    def try_scrape(self):
        try:
            return scrape(self.port)
        except OSError:
            return None

    def test_counts_exactly(self):
        st = self.st
        before = scrape(self.port)
        self.assertEqual(before["mqchat_redis_up"], 1)
        alice = Chat(st, "alice", st.add_user("alice", "pw-a"))
        bob = Chat(st, "bob", st.add_user("bob", "pw-b"))
        conv = alice.direct("bob")
        st.add_user("carol", "pw-c")
        carol = Chat(st, "carol", "pw-c")
        with self.assertRaises(AssertionError):
            st.client("alice", "wrong", connect=True)
        mid = scrape(self.port)
        for i in range(N):
            alice.send(conv, "m%d" % i, "hello %d" % i)
        for i in range(N):
            bob.msg(conv, "m%d" % i)
        # Refused sends: not JSON, not a member, too large.
        alice.publish_raw("chat/c/%s/send" % conv, b"not json")
        alice.err(code="bad_request")
        carol.send(conv, "x1", "let me in")
        carol.err(code="not_member")
        alice.publish_raw("chat/c/%s/send" % conv, b'{"id":"big","body":"' + b"x" * 70000 + b'"}')
        alice.err(code="too_large")
        after = scrape(self.port)

        self.assertEqual(delta(mid, after, "mqchat_messages_stored_total"), N)
        self.assertEqual(after["mqchat_connected_devices"], 3)
        ok = 'mqchat_logins_total{method="password",result="ok"}'
        fail = 'mqchat_logins_total{method="password",result="fail"}'
        self.assertEqual(delta(before, after, ok), 3)
        self.assertEqual(delta(before, after, fail), 1)
        for reason in ("bad_request", "not_member", "too_large"):
            self.assertEqual(
                delta(mid, after, 'mqchat_sends_rejected_total{reason="%s"}' % reason), 1, reason)
        self.assertEqual(delta(mid, after, 'mqchat_sends_rejected_total{reason="forbidden"}'), 0)
        # Every send was one store round trip at least; buckets are cumulative.
        count = after["mqchat_store_seconds_count"]
        self.assertGreaterEqual(count - mid.get("mqchat_store_seconds_count", 0), N)
        buckets = [v for k, v in after.items() if k.startswith("mqchat_store_seconds_bucket")]
        self.assertEqual(buckets, sorted(buckets))
        self.assertEqual(after['mqchat_store_seconds_bucket{le="+Inf"}'], count)
        self.assertGreater(after["mqchat_store_seconds_sum"], 0)

        status, ctype, text = fetch(self.port)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        for secret in ("alice", "bob", "carol", conv, "hello"):
            self.assertNotIn(secret, text)
        for line in text.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, r'^mqchat_[a-z_]+(\{[a-z_]+="[a-zA-Z_.+0-9]+"'
                                       r'(,[a-z_]+="[a-z_]+")*\})? [0-9.e+-]+$')
        with self.assertRaises(urllib.error.HTTPError) as e:
            fetch(self.port, "/other")
        self.assertEqual(e.exception.code, 404)

    def test_answers_while_redis_is_down(self):
        self.st.redis.stop()
        wait_for(lambda: scrape(self.port)["mqchat_redis_up"] == 0, what="mqchat_redis_up 0")
        t0 = time.monotonic()
        m = scrape(self.port)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(m["mqchat_redis_up"], 0)
        self.st.redis.start()
        wait_for(lambda: scrape(self.port)["mqchat_redis_up"] == 1, what="mqchat_redis_up 1")

    def test_dashboard_uses_real_names(self):
        """config/grafana-dashboard.json queries only metrics that exist:
        the broker's (as scraped) and the bridge's (PROTOCOL.md)."""
        import json
        import os
        path = os.path.join(os.path.dirname(__file__), "..", "..", "config",
                            "grafana-dashboard.json")
        with open(path) as f:
            dash = json.load(f)
        names = set(re.sub(r"\{.*", "", k) for k in scrape(self.port))
        names |= {"mqchat_push_sent_total", "mqchat_push_failed_total", "mqchat_push_backlog"}
        used = set()
        for panel in dash["panels"]:
            for t in panel["targets"]:
                used |= set(re.findall(r"mqchat_[a-z_]+", t["expr"]))
        self.assertTrue(used)
        self.assertEqual(used - names, set())

    def test_bad_listen_address_refused(self):
        self.st.broker.stop()
        self.st.broker.options["metrics_listen"] = "nowhere"
        self.st.broker.start(wait=False)
        wait_for(lambda: self.st.broker.proc.poll() is not None, what="broker to exit")
        self.assertIn("plugin_opt_metrics_listen: 'nowhere' must be host:port",
                      self.st.broker.log_text())


if __name__ == "__main__":
    main()
