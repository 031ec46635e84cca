"""mqchat-push's metrics (metrics_listen): GET /metrics counts pushes sent
per provider exactly, failures by provider and reason (a dead token, a
refused push), and mqchat_push_backlog shows jobs waiting for a retry, then
0 once everything settled. No user, token or body in the text."""
import shutil
import tempfile
import unittest
import urllib.request

from fakepush import FakePushServer, make_apns_key, make_service_account
from harness import Chat, Stack, free_port, main, wait_for
from test_push_bridge import KID, TEAM, Bridge


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out, text


class PushMetricsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqchat-pushm-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.srv = FakePushServer(workdir=self.dir)
        self.addCleanup(self.srv.stop)
        p8, _ = make_apns_key(self.dir, key_id=KID)
        sa, _ = make_service_account(self.dir, self.srv.token_uri)
        self.st = Stack(options={"presence_grace_ms": 0}).__enter__()
        self.addCleanup(self.st.close)
        for u in ("alice", "bob", "carol", "dave"):
            self.st.add_user(u, u + "-pw")
        self.port = free_port()
        self.bridge = Bridge(self.dir, {
            "redis_url": self.st.redis.url(),
            "apns_base_url": self.srv.url, "apns_sandbox_base_url": self.srv.url,
            "apns_key_file": p8, "apns_key_id": KID, "apns_team_id": TEAM,
            "fcm_base_url": self.srv.url, "fcm_service_account_file": sa,
            "ca_file": self.srv.ca_file, "request_timeout_ms": 1500,
            "stats_interval_seconds": 0, "max_attempts": 6,
            "metrics_listen": "127.0.0.1:%d" % self.port,
        })
        self.addCleanup(self.bridge.stop)
        self.alice = Chat(self.st, "alice", "alice-pw")

    def register(self, user, platform, token):
        c = Chat(self.st, user, user + "-pw")
        c.ok("device", platform=platform, token=token, app="test-project"
             if platform == "fcm" else "com.example.chat", sandbox=False)
        c.close()
        wait_for(lambda: self.st.redis.call("HGET", "mqchat:{u:%s}:presence" % user,
                                            "devices") == b"0", what=user + " offline")

    def try_scrape(self):
        try:
            return scrape(self.port)[0]
        except OSError:
            return None

    def test_counts(self):
        self.register("bob", "apns", "ab" * 32)
        self.register("carol", "fcm", "fcm-ok")
        self.register("dave", "apns", "dead" * 16)
        self.srv.behave("dead" * 16, [("status", 410, {"reason": "Unregistered"})])
        # bob's third push waits 3 s for its retry: the backlog shows it.
        self.srv.behave("ab" * 32, [("ok",), ("ok",), ("status", 429,
                                                      {"reason": "TooManyRequests"},
                                                      {"retry-after": "3"}), ("ok",)])
        cb, cc, cd = (self.alice.direct(u) for u in ("bob", "carol", "dave"))
        self.bridge.start()
        wait_for(self.try_scrape, what="the bridge's metrics endpoint")
        for i in range(3):
            self.alice.send(cb, "b%d" % i, "to bob")
        for i in range(2):
            self.alice.send(cc, "c%d" % i, "to carol")
        self.alice.send(cd, "d0", "to dave")
        wait_for(lambda: scrape(self.port)[0]["mqchat_push_backlog"] >= 1, timeout=15,
                 what="a job waiting for its retry")
        wait_for(lambda: scrape(self.port)[0].get('mqchat_push_sent_total{provider="apns"}')
                 == 3 and scrape(self.port)[0]["mqchat_push_backlog"] == 0, timeout=20,
                 what="everything settled")
        m, text = scrape(self.port)
        self.assertEqual(m['mqchat_push_sent_total{provider="fcm"}'], 2)
        self.assertEqual(m['mqchat_push_failed_total{provider="apns",reason="dead_token"}'], 1)
        self.assertEqual(sum(v for k, v in m.items()
                             if k.startswith("mqchat_push_failed_total")), 1)
        for secret in ("bob", "carol", "dave", "ab" * 32, "dead" * 8, "fcm-ok", "to bob"):
            self.assertNotIn(secret, text)


if __name__ == "__main__":
    main()
