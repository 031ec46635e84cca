"""mqchat-push end to end: the plugin writes push jobs for offline members, the
bridge sends them to local fake APNs/FCM endpoints (HTTP/2 over TLS with a
CA made at test time; verification stays on), with correct requests and
provider tokens, retries, dead-token removal, and no job lost when the bridge
or Redis restarts."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from fakepush import (OAUTH, FakePushServer, fcm_step, make_apns_key, make_service_account,
                      verify_jwt)
from harness import CLUSTER_MODE, Chat, Redis, Stack, _shared_cluster, free_port, main, wait_for

PUSH = os.environ.get("MQCHAT_PUSH", "")
TEAM, KID = "TEAM123456", "ABCDE12345"


def remove_dir(path):
    """Remove a test's temp dir (kept when MQCHAT_KEEP is set, as the
    harness keeps its own)."""
    if not os.environ.get("MQCHAT_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


class Bridge:
    def __init__(self, workdir, options):
        self.conf = os.path.join(workdir, "push.conf")
        self.log_path = os.path.join(workdir, "push.log")
        with open(self.conf, "w") as f:
            for k, v in options.items():
                f.write("%s %s\n" % (k, v))
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PUSH, "--config", self.conf], stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stats(self):
        out = subprocess.run([PUSH, "--config", self.conf, "--stats"], capture_output=True,
                             text=True, timeout=20).stdout
        return dict(l.split(" ", 1) for l in out.splitlines() if " " in l)


class PushBridgeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqchat-push-")
        self.addCleanup(remove_dir, self.dir)  # runs last: after every process stopped
        self.srv = FakePushServer(workdir=self.dir)
        self.addCleanup(self.srv.stop)
        self.p8, self.apns_pub = make_apns_key(self.dir, key_id=KID)
        self.sa, self.sa_pub = make_service_account(self.dir, self.srv.token_uri)
        self.st = Stack(options={"presence_grace_ms": 0}).__enter__()
        self.addCleanup(self.st.close)
        for u in ("alice", "bob", "carol"):
            self.st.add_user(u, u + "-pw")
        # a cluster (MQC_TEST_REDIS=cluster): the bridge on the stack's
        # cluster through its seeds, as deployed
        where = ({"redis_cluster_nodes": _shared_cluster().seeds(",")} if CLUSTER_MODE else
                 {"redis_url": self.st.redis.url()})
        self.bridge = Bridge(self.dir, dict(where, **{
            "apns_base_url": self.srv.url, "apns_sandbox_base_url": self.srv.url,
            "apns_key_file": self.p8, "apns_key_id": KID, "apns_team_id": TEAM,
            "fcm_base_url": self.srv.url, "fcm_service_account_file": self.sa,
            "ca_file": self.srv.ca_file, "request_timeout_ms": 1500,
            "stats_interval_seconds": 0, "max_attempts": 6,
        }))
        self.addCleanup(self.bridge.stop)
        self.alice = Chat(self.st, "alice", "alice-pw")

    def reconfigure(self, **changes):
        """Rewrite the bridge's config (before it starts) with changes."""
        opts = {}
        with open(self.bridge.conf) as f:
            for line in f:
                k, v = line.rstrip("\n").split(" ", 1)
                opts[k] = v
        opts.update({k: str(v) for k, v in changes.items()})
        self.bridge = Bridge(self.dir, opts)
        self.addCleanup(self.bridge.stop)

    def dead_letters(self):
        out = []
        r = self.st.redis.call("XRANGE", "mqchat:push:dead", "-", "+")
        for _id, fv in r:
            d = {}
            for i in range(0, len(fv), 2):
                d[fv[i].decode()] = fv[i + 1].decode()
            out.append(d)
        return out

    def register(self, user, platform, token, app="com.example.chat", sandbox=False):
        c = Chat(self.st, user, user + "-pw")
        c.ok("device", platform=platform, token=token, app=app, sandbox=sandbox)
        c.close()
        wait_for(lambda: self.redis("HGET", "mqchat:{u:%s}:presence" % user,
                                    "devices").strip() == "0", what=user + " offline")

    def redis(self, *args):
        """A Redis command's reply as text (the stack's call: follows MOVED)."""
        v = self.st.redis.call(*args)
        return v.decode() if isinstance(v, bytes) else "" if v is None else str(v)

    def send(self, conv, mid, body):
        self.alice.send(conv, mid, body)
        self.alice.msg(conv, mid)

    def test_apns_request_is_exactly_right(self):
        tok = "ab" * 32
        self.register("bob", "apns", tok)
        conv = self.alice.direct("bob")
        self.bridge.start()
        self.send(conv, "m1", "hello bob")
        reqs = self.srv.wait_requests(1, timeout=15, kind="apns")
        r = reqs[0]
        self.assertEqual((r.method, r.path), ("POST", "/3/device/" + tok))
        h = r.headers
        self.assertEqual(h["apns-topic"], "com.example.chat")
        self.assertEqual(h["apns-push-type"], "alert")
        self.assertEqual(h["apns-priority"], "10")
        self.assertEqual(h["apns-collapse-id"], conv)
        self.assertRegex(h["apns-id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                       r"[0-9a-f]{12}$")
        self.assertGreater(int(h["apns-expiration"]), time.time())
        hdr, claims = verify_jwt(r.bearer(), self.apns_pub, alg="ES256")
        self.assertEqual((hdr["alg"], hdr["kid"]), ("ES256", KID))
        self.assertEqual(claims["iss"], TEAM)
        self.assertLess(abs(claims["iat"] - time.time()), 60)
        body = r.json()
        self.assertEqual(body["aps"]["alert"], {"title": "alice", "body": "hello bob"})
        self.assertEqual(body["aps"]["badge"], 1)
        self.assertEqual((body["conv"], body["seq"]), (conv, 1))
        self.assertLessEqual(len(r.body), 4096)
        # exactly one request per message, the job acknowledged
        self.send(conv, "m2", "again")
        self.srv.wait_requests(2, timeout=15, kind="apns")
        wait_for(lambda: self.bridge.stats().get("pending") == "0", what="jobs acked")
        self.assertEqual(len(self.srv.requests(kind="apns")), 2)

    def test_fcm_request_and_oauth(self):
        self.register("carol", "fcm", "fcm-token-1", app="test-project")
        conv = self.alice.direct("carol")
        self.bridge.start()
        self.send(conv, "f1", "hi carol")
        r = self.srv.wait_requests(1, timeout=15, kind="fcm")[0]
        self.assertEqual(r.path, "/v1/projects/test-project/messages:send")
        m = r.json()["message"]
        self.assertEqual(m["token"], "fcm-token-1")
        self.assertEqual(m["notification"], {"title": "alice", "body": "hi carol"})
        self.assertEqual(m["data"]["conv"], conv)
        self.assertEqual(m["data"]["seq"], "1")
        self.assertEqual(m["android"], {"priority": "high", "collapse_key": conv})
        oauth = self.srv.requests(kind="oauth")[0]
        self.assertEqual(oauth.form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer")
        hdr, claims = verify_jwt(oauth.form["assertion"], self.sa_pub, alg="RS256")
        self.assertEqual(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging")
        self.assertEqual(claims["aud"], self.srv.token_uri)
        self.assertEqual(r.headers["authorization"], "Bearer " + oauth.issued_token)
        # a revoked access token: 401, one refresh, delivered
        self.srv.revoke_access_tokens()
        self.send(conv, "f2", "after revoke")
        wait_for(lambda: [x for x in self.srv.requests(kind="fcm") if x.status == 200 and
                          x.json()["message"]["notification"]["body"] == "after revoke"],
                 timeout=15, what="delivery after token refresh")
        self.assertEqual(len(self.srv.requests(kind="oauth")), 2)

    def test_dead_tokens_removed_and_never_pushed_again(self):
        self.register("bob", "apns", "dead" * 16)
        self.register("carol", "fcm", "gone-fcm")
        self.srv.behave("dead" * 16, [("status", 410, {"reason": "Unregistered"})])
        self.srv.behave("gone-fcm", [fcm_step("UNREGISTERED")])
        cb, cc = self.alice.direct("bob"), self.alice.direct("carol")
        self.bridge.start()
        self.send(cb, "d1", "x")
        self.send(cc, "d2", "y")
        wait_for(lambda: self.redis("HLEN", "mqchat:{u:bob}:devices").strip() == "0" and
                 self.redis("HLEN", "mqchat:{u:carol}:devices").strip() == "0",
                 timeout=15, what="dead tokens removed")
        self.send(cb, "d3", "x")
        self.send(cc, "d4", "y")
        wait_for(lambda: self.bridge.stats().get("pending") == "0", what="jobs acked")
        self.assertEqual(len(self.srv.requests(token="dead" * 16)), 1)
        self.assertEqual(len(self.srv.requests(token="gone-fcm")), 1)
        self.assertEqual(self.bridge.stats().get("tokens_removed"), "2")

    def test_retries_503_and_retry_after(self):
        self.register("bob", "apns", "aa" * 32)
        self.register("carol", "apns", "bb" * 32)
        self.srv.behave("aa" * 32, [("status", 503, {"reason": "ServiceUnavailable"}), ("ok",)])
        self.srv.behave("bb" * 32, [("status", 429, {"reason": "TooManyRequests"},
                                     {"retry-after": "2"}), ("ok",)])
        cb, cc = self.alice.direct("bob"), self.alice.direct("carol")
        self.bridge.start()
        self.send(cb, "r1", "x")
        self.send(cc, "r2", "y")
        wait_for(lambda: len([r for r in self.srv.requests(token="aa" * 32)
                              if r.status == 200]) == 1, timeout=20, what="503 retried")
        wait_for(lambda: len([r for r in self.srv.requests(token="bb" * 32)
                              if r.status == 200]) == 1, timeout=20, what="429 retried")
        b = self.srv.requests(token="bb" * 32)
        self.assertGreaterEqual(b[1].time - b[0].time, 1.9)  # Retry-After honoured
        wait_for(lambda: self.bridge.stats().get("pending") == "0" and
                 self.bridge.stats().get("waiting_retry") == "0", what="all settled")
        self.assertEqual(len(self.srv.requests(token="aa" * 32)), 2)
        self.assertEqual(len(self.srv.requests(token="bb" * 32)), 2)

    def test_hung_endpoint_does_not_block_others(self):
        self.register("bob", "apns", "cc" * 32)
        self.register("carol", "apns", "dd" * 32)
        self.srv.behave("cc" * 32, [("hang",), ("ok",)])
        cb, cc = self.alice.direct("bob"), self.alice.direct("carol")
        self.bridge.start()
        self.send(cb, "h1", "x")
        self.send(cc, "h2", "y")
        # carol's push goes through while bob's first attempt hangs
        wait_for(lambda: any(r.status == 200 for r in self.srv.requests(token="dd" * 32)),
                 timeout=10, what="other push not blocked")
        wait_for(lambda: any(r.status == 200 for r in self.srv.requests(token="cc" * 32)),
                 timeout=20, what="hung push retried after the timeout")

    def test_goaway_mid_batch_loses_nothing(self):
        tokens = ["%064x" % i for i in range(1, 41)]
        users = []
        for i, t in enumerate(tokens):
            u = "g%02d" % i
            self.st.add_user(u, u + "-pw")
            self.register(u, "apns", t)
            users.append(u)
        conv = self.alice.group("goaway", users)
        self.srv.goaway_every(7)
        self.bridge.start()
        for i in range(3):
            self.send(conv, "ga%d" % i, "burst %d" % i)
        def delivered():
            ok = {}
            for r in self.srv.requests(kind="apns"):
                if r.status == 200:
                    ok[(r.token, r.json()["seq"])] = ok.get((r.token, r.json()["seq"]), 0) + 1
            return ok
        wait_for(lambda: len(delivered()) == 40 * 4, timeout=40,
                 what="every (device, message) delivered")  # creation event + 3 messages
        # Pushes are at least once: a 200 the fake wrote just before it closed
        # the connection (1 s after its GOAWAY, possibly with an RST that
        # discards it on a loaded machine) is never read, and the bridge
        # rightly sends that one again. Never more than that.
        self.assertLessEqual(max(delivered().values()), 2)

    def test_bridge_killed_then_restarted_delivers_everything(self):
        tok = "ee" * 32
        self.register("bob", "apns", tok)
        self.srv.behave(tok, [("delay", 3.0)])
        conv = self.alice.direct("bob")
        self.bridge.start()
        for i in range(5):
            self.send(conv, "k%d" % i, "kill %d" % i)
        self.srv.wait_requests(1, timeout=10, kind="apns")
        self.bridge.stop(sig=signal.SIGKILL)  # jobs in flight, none acked
        self.srv.behave(tok, [("ok",)])
        self.bridge.start()
        def seqs():
            return {r.json()["seq"] for r in self.srv.requests(token=tok) if r.status == 200}
        wait_for(lambda: seqs() == {1, 2, 3, 4, 5}, timeout=90, what="all five delivered")

    def test_unreachable_apns_is_logged_once_with_its_reason(self):
        port = free_port()  # nothing listens there
        self.reconfigure(apns_base_url="https://127.0.0.1:%d" % port, max_attempts=1)
        self.register("bob", "apns", "a1" * 32)
        self.register("carol", "apns", "a2" * 32)
        cb, cc = self.alice.direct("bob"), self.alice.direct("carol")
        self.bridge.start()
        self.send(cb, "u1", "x")
        self.send(cc, "u2", "y")
        wait_for(lambda: len(self.dead_letters()) >= 2, timeout=20,
                 what="both jobs dead-lettered")
        for d in self.dead_letters():
            self.assertIn("port %d" % port, d["error"])
            self.assertIn("too many attempts; last error: ", d["reason"])
            self.assertIn(d["error"], d["reason"])
            self.assertEqual(d["attempt"], "1")
        log = self.bridge.log()
        lines = [l for l in log.splitlines() if "APNs request failed: " in l]
        self.assertEqual(len(lines), 1, log)  # a class once per interval, not per request
        self.assertIn("port %d" % port, lines[0])

    def test_oauth_failure_is_retried_logged_and_dead_lettered(self):
        self.reconfigure(max_attempts=2)
        self.srv.behave(OAUTH, [("status", 500, {"error": "backend_error",
                                                 "error_description": "try later"})])
        self.register("carol", "fcm", "fcm-oauth-fail", app="test-project")
        conv = self.alice.direct("carol")
        self.bridge.start()
        self.send(conv, "o1", "hi")
        wait_for(lambda: int(self.bridge.stats().get("retried", "0")) >= 1, timeout=15,
                 what="the OAuth failure counted as a retry")
        self.assertGreaterEqual(int(self.bridge.stats().get("retry_oauth_failed", "0")), 1)
        wait_for(lambda: len(self.dead_letters()) >= 1, timeout=20, what="job dead-lettered")
        d = self.dead_letters()[0]
        self.assertEqual(d["error"], "FCM OAuth token request failed: HTTP 500 backend_error: "
                                     "try later")
        self.assertIn("FCM OAuth token request failed: HTTP 500 backend_error", self.bridge.log())
        self.assertEqual(self.srv.requests(kind="fcm"), [])

    def test_hung_oauth_does_not_block_apns(self):
        self.reconfigure(request_timeout_ms=8000)
        self.srv.behave(OAUTH, [("hang",), ("ok",)])
        self.register("carol", "fcm", "fcm-hang-1", app="test-project")
        self.register("bob", "apns", "a3" * 32)
        cc, cb = self.alice.direct("carol"), self.alice.direct("bob")
        self.bridge.start()
        self.send(cc, "h0", "to carol")
        self.srv.wait_requests(1, timeout=15, kind="oauth")
        t0 = time.monotonic()
        self.send(cb, "h1", "to bob")
        wait_for(lambda: any(r.status == 200 for r in self.srv.requests(token="a3" * 32)),
                 timeout=6, what="APNs push while the OAuth request hangs")
        self.assertLess(time.monotonic() - t0, 6)
        self.assertIsNone(self.srv.requests(kind="oauth")[0].status)  # still hanging
        # after the token request times out, FCM goes through with a new token
        wait_for(lambda: any(r.status == 200 for r in self.srv.requests(kind="fcm")),
                 timeout=30, what="FCM delivered after the hung token request")

    @unittest.skipIf(CLUSTER_MODE, "restarts the one Redis; a primary's failover under the "
                     "bridge is test_push_cluster's")
    def test_redis_restart_under_the_bridge(self):
        tok = "ff" * 32
        self.register("bob", "apns", tok)
        conv = self.alice.direct("bob")
        self.bridge.start()
        self.send(conv, "x1", "before")
        self.srv.wait_requests(1, timeout=15, kind="apns")
        self.st.redis.stop()
        self.assertIsNone(self.bridge.proc.poll())
        self.st.redis.start()
        def resent():
            self.alice.send(conv, "x2", "after")
            e = self.alice.event(lambda e: e.get("id") == "x2")
            return e["t"] == "msg"
        wait_for(resent, what="send after Redis restart")
        wait_for(lambda: len(self.srv.requests(token=tok)) >= 2, timeout=20,
                 what="push after Redis restart")
        self.assertIsNone(self.bridge.proc.poll())


@unittest.skipIf(CLUSTER_MODE, "the bridge against its own one Redis (wrong URL, stats, old "
                 "queue keys), no broker: nothing of the cluster (test_push_cluster has its "
                 "cluster side)")
class BridgeRedisTest(unittest.TestCase):
    """The bridge's own Redis side, without a broker: a wrong redis_url is
    reported (naming the URL, never its password) whatever is configured,
    and --stats counts jobs nobody has read yet."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqchat-push-redis-")
        self.addCleanup(remove_dir, self.dir)
        self.p8, _ = make_apns_key(self.dir, key_id=KID)

    def bridge(self, url, apns):
        opts = {"redis_url": url, "stats_interval_seconds": 0}
        if apns:
            opts.update({"apns_key_file": self.p8, "apns_key_id": KID, "apns_team_id": TEAM})
        b = Bridge(self.dir, opts)
        if os.path.exists(b.log_path):
            os.unlink(b.log_path)
        b.start()
        self.addCleanup(b.stop)
        return b

    def test_unreachable_redis_is_reported_in_every_mode(self):
        port = free_port()
        for apns in (False, True):
            b = self.bridge("redis://:hunter2secret@127.0.0.1:%d/0" % port, apns)
            want = "cannot use redis at redis://:***@127.0.0.1:%d/0" % port
            wait_for(lambda: want in b.log(), timeout=15,
                     what="the bridge to report the unreachable Redis (apns=%s)" % apns)
            self.assertIsNone(b.proc.poll())  # it keeps trying, never exits
            b.stop()
            log = b.log()
            self.assertNotIn("hunter2secret", log)
            self.assertEqual(log.count(want), 1, log)  # once per outage, not once a second

    def test_refused_setup_is_reported(self):
        redis = Redis(self.dir)
        redis.start()
        self.addCleanup(redis.stop)
        b = self.bridge("redis://127.0.0.1:%d/99" % redis.port, False)
        wait_for(lambda: "cannot use redis at redis://127.0.0.1:%d/99: SELECT refused" %
                 redis.port in b.log(), timeout=15, what="the refused SELECT reported")

    def test_credential_file_errors_name_line_and_key(self):
        sa = os.path.join(self.dir, "sa.json")
        with open(sa, "w") as f:
            f.write("this is not JSON\n")
        notkey = os.path.join(self.dir, "notkey.p8")
        with open(notkey, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        apns = {"apns_key_id": KID, "apns_team_id": TEAM}
        cases = [
            (dict(apns, apns_key_file="/nonexistent/AuthKey.p8"),
             "line 3: apns_key_file: cannot read '/nonexistent/AuthKey.p8': No such file"),
            (dict(apns, apns_key_file=notkey),
             "line 3: apns_key_file: '%s' is not an EC P-256 private key" % notkey),
            ({"fcm_service_account_file": sa},
             "line 1: fcm_service_account_file: '%s' is not JSON" % sa),
            ({"fcm_service_account_file": "/nonexistent/sa.json"},
             "line 1: fcm_service_account_file: cannot read '/nonexistent/sa.json'"),
        ]
        for opts, want in cases:
            with self.subTest(want=want):
                b = Bridge(self.dir, opts)
                r = subprocess.run([PUSH, "--config", b.conf], capture_output=True, text=True,
                                   timeout=20)
                self.assertEqual(r.returncode, 1)
                self.assertIn(b.conf + ": " + want, r.stderr)

    def test_stats_count_jobs_not_read_yet(self):
        redis = Redis(self.dir)
        redis.start()
        self.addCleanup(redis.stop)
        for i in range(3):
            redis.call("XADD", "mqchat:{push}", "*", "user", "bob", "conv", "d:x", "seq", i + 1)
        b = Bridge(self.dir, {"redis_url": redis.url()})  # jobs queued, no daemon reading
        st = b.stats()
        self.assertEqual(st.get("pending"), "0")
        self.assertEqual(st.get("waiting"), "3")
        redis.call("XADD", "mqchat:{push}", "*", "user", "bob", "conv", "d:x", "seq", 4)
        self.assertEqual(b.stats().get("waiting"), "4")
        # deleted entries: Redis no longer knows the lag, the count still holds
        first = redis.call("XRANGE", "mqchat:{push}", "-", "+", "COUNT", 1)[0][0]
        redis.call("XDEL", "mqchat:{push}", first)
        self.assertEqual(b.stats().get("waiting"), "3")

    def test_old_queue_keys_renamed(self):
        """The queue of before the hash tag (mqchat:push, mqchat:push:delay)
        moves to mqchat:{push} / mqchat:{push}:delay with its consumer group
        and pending entries: by `mqchat store upgrade`, and by the bridge on
        connect, also when both names exist (an old bridge still writing):
        the new key gets what it lacks, nothing twice."""
        redis = Redis(self.dir)
        redis.start()
        self.addCleanup(redis.stop)
        old, new, old_d, new_d = ("mqchat:push", "mqchat:{push}", "mqchat:push:delay",
                                  "mqchat:{push}:delay")
        redis.call("XGROUP", "CREATE", old, "mqchat-push", "0", "MKSTREAM")
        for i in range(3):
            redis.call("XADD", old, "*", "user", "bob", "conv", "d:x", "seq", i + 1)
        redis.call("XREADGROUP", "GROUP", "mqchat-push", "old1", "COUNT", 2, "STREAMS", old, ">")
        redis.call("XACK", old, "mqchat-push", redis.call("XRANGE", old, "-", "+")[0][0])
        redis.call("ZADD", old_d, 5, '["user","bob","seq","9"]')
        cli = os.environ["MQCHAT_CLI"]
        r = subprocess.run([cli, "--redis", redis.url(), "store", "upgrade"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((redis.call("EXISTS", old), redis.call("EXISTS", old_d)), (0, 0))
        self.assertEqual(redis.call("XLEN", new), 3)
        self.assertEqual(redis.call("XPENDING", new, "mqchat-push")[0], 1)  # seq 2, still old1's
        self.assertEqual(redis.call("ZRANGE", new_d, 0, -1), [b'["user","bob","seq","9"]'])
        # both names: an old bridge wrote seq 4 and a retry after the move
        redis.call("XADD", old, "*", "user", "bob", "conv", "d:x", "seq", 4)
        redis.call("ZADD", old_d, 6, '["user","bob","seq","10"]')
        b = Bridge(self.dir, {"redis_url": redis.url()})
        self.assertEqual(b.stats().get("waiting"), "2")  # seq 3 and 4
        self.assertEqual((redis.call("EXISTS", old), redis.call("EXISTS", old_d)), (0, 0))
        seqs = [dict(zip(fv[::2], fv[1::2]))[b"seq"] for _id, fv in
                redis.call("XRANGE", new, "-", "+")]
        self.assertEqual(seqs, [b"1", b"2", b"3", b"4"])
        self.assertEqual(redis.call("ZCARD", new_d), 2)
        b.stats()  # again: nothing left to move, nothing doubled
        self.assertEqual(redis.call("XLEN", new), 4)


if __name__ == "__main__":
    if not PUSH:
        raise SystemExit("MQCHAT_PUSH must be set (run through ctest)")
    main()
