"""Self-test of fakepush.py (fake APNs/FCM/OAuth over HTTP/2 + TLS on loopback),
driven by Debian's curl command line tool with the test CA (verification on)."""

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import main, wait_for
from fakepush import (OAUTH, FakePushServer, apns_step, decode_jwt, fcm_error, fcm_step,
                      make_apns_key, make_ca, make_service_account, verify_jwt)

CURL = "curl"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class FakePushTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fakepush-test-")
        cls.certs = make_ca(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.srv = FakePushServer(certs=self.certs)
        self.addCleanup(self.srv.stop)

    def curl(self, *args, urls=(), data=None, headers=(), max_time=10, check=True):
        """Run curl over HTTP/2 against the fake; returns (returncode, list of
        (http_code, http_version) per URL, stdout)."""
        cmd = [CURL, "-sS", "--http2", "--cacert", self.srv.ca_file, "--max-time",
               str(max_time), "-o", "/dev/null", "-w", "%{http_code} %{http_version}\\n"]
        for h in headers:
            cmd += ["-H", h]
        if data is not None:
            cmd += ["--data-binary", data]
        cmd += list(args) + [self.srv.url + u for u in urls]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=max_time + 20)
        if check:
            self.assertEqual(r.returncode, 0, "curl failed: %s" % r.stderr)
        codes = [tuple(l.split()) for l in r.stdout.splitlines() if l.strip()]
        return r.returncode, codes, r.stdout

    def fetch(self, path, data, headers=(), max_time=10):
        """One POST; returns (status, headers dict, body bytes)."""
        d = tempfile.mkdtemp(dir=self.dir)
        hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
        cmd = [CURL, "-sS", "--http2", "--cacert", self.srv.ca_file, "--max-time",
               str(max_time), "-D", hdr, "-o", body, "--data-binary", data]
        for h in headers:
            cmd += ["-H", h]
        r = subprocess.run(cmd + [self.srv.url + path], capture_output=True, text=True,
                           timeout=max_time + 20)
        self.assertEqual(r.returncode, 0, "curl failed: %s" % r.stderr)
        with open(hdr) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].startswith("HTTP/2 "), lines[0])
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        with open(body, "rb") as f:
            return status, hdrs, f.read()

    # ------------------------------------------------------------------
    def test_apns_200_headers_recorded(self):
        apns_id = "123e4567-e89b-12d3-a456-426614174000"
        payload = b'{"aps":{"alert":{"title":"bob","body":"hi"},"badge":3},"conv":"c1","seq":7}'
        st, hdrs, body = self.fetch("/3/device/aabbcc", payload, headers=[
            "apns-topic: org.example.chat", "apns-push-type: alert", "apns-priority: 10",
            "apns-id: " + apns_id, "apns-collapse-id: c1",
            "authorization: bearer x.y.z"])
        self.assertEqual(st, 200)
        self.assertEqual(hdrs.get("apns-id"), apns_id)
        self.assertEqual(body, b"")
        reqs = self.srv.wait_requests(1, kind="apns")
        r = reqs[0]
        self.assertEqual((r.method, r.path, r.kind, r.token), ("POST", "/3/device/aabbcc",
                                                               "apns", "aabbcc"))
        self.assertEqual(r.headers["apns-topic"], "org.example.chat")
        self.assertEqual(r.headers["apns-push-type"], "alert")
        self.assertEqual(r.headers["apns-collapse-id"], "c1")
        self.assertEqual(r.headers[":authority"], "127.0.0.1:%d" % self.srv.port)
        self.assertEqual(r.bearer(), "x.y.z")
        self.assertEqual(r.body, payload)
        self.assertEqual(r.json()["seq"], 7)
        self.assertEqual(r.status, 200)
        self.assertIsInstance(r.stream_id, int)
        self.assertEqual(r.conn_id, 1)
        self.assertLessEqual(abs(r.time - time.time()), 30)
        # Without apns-id the server makes one up (lowercase UUID).
        st, hdrs, _ = self.fetch("/3/device/aabbcc", b"{}")
        self.assertEqual(st, 200)
        self.assertRegex(hdrs["apns-id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-")
        self.assertEqual(len(self.srv.requests("/3/device/")), 2)
        self.assertEqual(self.srv.requests("/v1/"), [])

    def test_apns_steps_repeat_last(self):
        self.srv.behave("dead", [("status", 200), ("status", 410, {"reason": "Unregistered"})])
        self.srv.behave("busy", [apns_step(429, "TooManyRequests", {"retry-after": "2"}),
                                 ("status", 503), ("ok",)])
        got = [self.fetch("/3/device/dead", b"{}") for _ in range(3)]
        self.assertEqual([g[0] for g in got], [200, 410, 410])
        for _, hdrs, body in got[1:]:
            j = json.loads(body)
            self.assertEqual(j["reason"], "Unregistered")
            self.assertIsInstance(j["timestamp"], int)
            self.assertIn("apns-id", hdrs)
        got = [self.fetch("/3/device/busy", b"{}") for _ in range(4)]
        self.assertEqual([g[0] for g in got], [429, 503, 200, 200])
        self.assertEqual(got[0][1].get("retry-after"), "2")
        self.assertEqual(json.loads(got[0][2]), {"reason": "TooManyRequests"})
        # Other tokens are unaffected; an empty list restores the default.
        self.assertEqual(self.fetch("/3/device/other", b"{}")[0], 200)
        self.srv.behave("dead", [])
        self.assertEqual(self.fetch("/3/device/dead", b"{}")[0], 200)
        self.assertEqual([r.status for r in self.srv.requests(token="dead")],
                         [200, 410, 410, 200])

    def test_fcm_default_and_unregistered(self):
        self.srv.behave("gone", [("status", 404, fcm_error("UNREGISTERED"))])
        self.srv.behave("flaky", [fcm_step("UNAVAILABLE"), ("ok",)])
        path = "/v1/projects/test-project/messages:send"
        msg = lambda tok: json.dumps({"message": {"token": tok, "data": {"conv": "c1"}}})
        st, hdrs, body = self.fetch(path, msg("live"), headers=[
            "content-type: application/json", "authorization: Bearer ya29.whatever"])
        self.assertEqual(st, 200)
        self.assertRegex(json.loads(body)["name"], r"^projects/test-project/messages/.+")
        st, hdrs, body = self.fetch(path, msg("gone"), headers=["authorization: Bearer a"])
        self.assertEqual(st, 404)
        err = json.loads(body)["error"]
        self.assertEqual(err["status"], "NOT_FOUND")
        self.assertEqual(err["code"], 404)
        self.assertEqual([d["errorCode"] for d in err["details"]], ["UNREGISTERED"])
        self.assertEqual([self.fetch(path, msg("flaky"), headers=["authorization: Bearer a"])[0]
                          for _ in range(3)], [503, 200, 200])
        reqs = self.srv.requests(kind="fcm")
        self.assertEqual([r.token for r in reqs], ["live", "gone", "flaky", "flaky", "flaky"])
        self.assertEqual(reqs[0].project, "test-project")
        self.assertEqual(reqs[0].json()["message"]["data"], {"conv": "c1"})
        # No Authorization at all: 401.
        self.assertEqual(self.fetch(path, msg("live"))[0], 401)

    def test_oauth_tokens_and_revocation(self):
        form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c"
        st, _, body = self.fetch("/token", form, headers=[
            "content-type: application/x-www-form-urlencoded"])
        self.assertEqual(st, 200)
        tok = json.loads(body)
        self.assertEqual(tok, {"access_token": "ya29.fake-1", "expires_in": 3600,
                               "token_type": "Bearer"})
        r = self.srv.wait_requests(1, kind="oauth")[0]
        self.assertEqual(r.form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer")
        self.assertEqual(r.form["assertion"], "a.b.c")
        self.assertEqual(r.issued_token, "ya29.fake-1")
        self.assertEqual(self.srv.tokens_issued, 1)
        path = "/v1/projects/test-project/messages:send"
        msg = json.dumps({"message": {"token": "t1"}})
        auth = ["authorization: Bearer ya29.fake-1"]
        self.assertEqual(self.fetch(path, msg, headers=auth)[0], 200)
        self.srv.revoke_access_tokens()
        st, _, body = self.fetch(path, msg, headers=auth)
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body)["error"]["status"], "UNAUTHENTICATED")
        # A fresh token works; expires_in is configurable and enforced.
        self.srv.oauth_expires_in = 1
        st, _, body = self.fetch("/token", form)
        self.assertEqual(json.loads(body)["access_token"], "ya29.fake-2")
        self.assertEqual(json.loads(body)["expires_in"], 1)
        auth = ["authorization: Bearer ya29.fake-2"]
        self.assertEqual(self.fetch(path, msg, headers=auth)[0], 200)
        wait_for(lambda: self.fetch(path, msg, headers=auth)[0] == 401, timeout=5,
                 what="the 1 s access token to expire", interval=0.2)
        # Bad grant; scripted OAuth failure.
        self.assertEqual(self.fetch("/token", "grant_type=password")[0], 400)
        self.srv.behave(OAUTH, [("status", 503), ("ok",)])
        self.assertEqual(self.fetch("/token", form)[0], 503)
        self.assertEqual(self.fetch("/token", form)[0], 200)
        self.assertEqual(self.srv.tokens_issued, 3)
        # strict_auth: tokens never issued are refused.
        self.srv.strict_auth = True
        self.assertEqual(self.fetch(path, msg, headers=["authorization: Bearer nope"])[0], 401)
        self.assertEqual(self.fetch(path, msg, headers=["authorization: Bearer ya29.fake-3"])[0],
                         200)

    def test_hang_times_out_client_side(self):
        self.srv.behave("stuck", [("hang",)])
        t0 = time.monotonic()
        rc, _, _ = self.curl(urls=["/3/device/stuck"], data="{}", max_time=1, check=False)
        self.assertEqual(rc, 28)  # CURLE_OPERATION_TIMEDOUT
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(self.srv.wait_requests(1, token="stuck")[0].status, None)
        # A new connection still works.
        _, codes, _ = self.curl(urls=["/3/device/fine"], data="{}")
        self.assertEqual(codes, [("200", "2")])
        self.assertGreaterEqual(self.srv.connections_accepted, 2)

    def test_delay_and_reset_steps(self):
        self.srv.behave("slow", [("delay", 0.3, ("status", 200))])
        t0 = time.monotonic()
        _, codes, _ = self.curl(urls=["/3/device/slow"], data="{}")
        self.assertEqual(codes, [("200", "2")])
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.srv.behave("rst", [("reset",), ("ok",)])
        rc, _, _ = self.curl(urls=["/3/device/rst"], data="{}", check=False)
        self.assertNotEqual(rc, 0)
        _, codes, _ = self.curl(urls=["/3/device/rst"], data="{}")
        self.assertEqual(codes, [("200", "2")])

    def test_goaway_every_2_sequential(self):
        self.srv.goaway_every(2)
        tokens = ["t%d" % i for i in range(5)]
        # curl 7.88 may fail a request that races the GOAWAY (see
        # run_until_all_answered): the fake must still answer each once.
        self.run_until_all_answered(tokens, parallel_max=1)
        reqs = [r for r in self.srv.requests() if r.status == 200]
        self.assertEqual(sorted(r.token for r in reqs), tokens)
        # never more than 2 responses on one connection
        per_conn = {}
        for r in reqs:
            per_conn[r.conn_id] = per_conn.get(r.conn_id, 0) + 1
        self.assertLessEqual(max(per_conn.values()), 2)
        self.assertGreaterEqual(self.srv.connections_accepted, 3)

    def test_many_concurrent_streams_one_connection(self):
        n = 100
        _, codes, _ = self.curl("--parallel", "--parallel-max", "100", "--parallel-immediate",
                                urls=["/3/device/p%d" % i for i in range(n)], data="{}",
                                max_time=30)
        self.assertEqual(codes, [("200", "2")] * n)
        reqs = self.srv.wait_requests(n)
        self.assertEqual(len({r.token for r in reqs}), n)

    def run_until_all_answered(self, tokens, parallel_max=20, rounds=10):
        """curl --parallel over the tokens; re-run the ones that failed (curl
        7.88 reports a stream refused by GOAWAY as error 16 when it was the
        connection's last active one, instead of retrying it itself)."""
        left, failures = list(tokens), 0
        for _ in range(rounds):
            cmd = [CURL, "-sS", "--http2", "--cacert", self.srv.ca_file, "--max-time", "30",
                   "--parallel", "--parallel-max", str(parallel_max), "--data-binary", "{}",
                   "-o", "/dev/null", "-w", "%{url_effective} %{http_code} %{exitcode}\\n"]
            r = subprocess.run(cmd + [self.srv.url + "/3/device/" + t for t in left],
                               capture_output=True, text=True, timeout=60)
            ok = set()
            for line in r.stdout.splitlines():
                url, code, rc = line.split()
                if code == "200" and rc == "0":
                    ok.add(url.rsplit("/", 1)[1])
                else:
                    self.assertIn(rc, ("0", "16", "56", "92"), line)  # refused by GOAWAY
            failures += len(left) - len(ok)
            left = [t for t in left if t not in ok]
            if not left:
                return failures
        self.fail("never answered: %r" % left)

    def test_goaway_with_parallel_streams(self):
        # Streams the client opened beyond GOAWAY's last_stream_id are left
        # unanswered and unprocessed: each token is answered exactly once.
        self.srv.goaway_every(7)
        tokens = ["g%d" % i for i in range(60)]
        self.run_until_all_answered(tokens)
        answered = [r.token for r in self.srv.requests() if r.status == 200]
        self.assertEqual(sorted(answered), sorted(tokens))
        self.assertGreaterEqual(self.srv.connections_accepted, 60 // 7)
        for c in set(r.conn_id for r in self.srv.requests()):
            self.assertLessEqual(len([r for r in self.srv.requests() if r.conn_id == c]), 7)

    def test_goaway_received_mode_refuses_nothing(self):
        self.srv.goaway_every(7, last="received")
        n = 60
        _, codes, _ = self.curl("--parallel", "--parallel-max", "20",
                                urls=["/3/device/r%d" % i for i in range(n)], data="{}",
                                max_time=30)
        self.assertEqual(codes, [("200", "2")] * n)
        self.assertEqual(sorted(r.token for r in self.srv.requests()),
                         sorted("r%d" % i for i in range(n)))
        self.assertGreaterEqual(self.srv.connections_accepted, 2)

    def test_goaway_step_and_drop(self):
        self.srv.behave("ga", [("goaway", 0, {"reason": "Shutdown"}), ("ok",)])
        rc, codes, _ = self.curl(urls=["/3/device/ga"], data="{}", check=False)
        if rc == 16:  # curl 7.88 does not resend a lone stream refused by GOAWAY
            rc, codes, _ = self.curl(urls=["/3/device/ga"], data="{}")
        self.assertEqual(codes, [("200", "2")])
        self.assertEqual([r.status for r in self.srv.requests(token="ga")], [None, 200])
        self.assertEqual(self.srv.connections_accepted, 2)
        self.srv.behave("dr", [("drop",), ("ok",)])
        rc, _, _ = self.curl(urls=["/3/device/dr"], data="{}", check=False)
        self.assertNotEqual(rc, 0)
        _, codes, _ = self.curl(urls=["/3/device/dr"], data="{}")
        self.assertEqual(codes, [("200", "2")])

    def test_large_bodies(self):
        big = os.path.join(self.dir, "big.bin")
        blob = os.urandom(3 << 20)
        with open(big, "wb") as f:
            f.write(blob)
        _, codes, _ = self.curl(urls=["/3/device/big"], data="@" + big, max_time=30)
        self.assertEqual(codes, [("200", "2")])
        self.assertEqual(self.srv.wait_requests(1, token="big")[0].body, blob)
        resp = "x" * (700 << 10)
        self.srv.behave("bigresp", [("status", 200, resp)])
        st, _, body = self.fetch("/3/device/bigresp", b"{}")
        self.assertEqual((st, len(body)), (200, len(resp)))

    def test_abrupt_clients(self):
        ctx = ssl.create_default_context(cafile=self.srv.ca_file)
        ctx.set_alpn_protocols(["h2"])
        for cut in (0, 10, 40):
            raw = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            if cut == 0:
                raw.close()  # before the TLS handshake
                continue
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                      b"\x00\x00\x10\x01\x04\x00\x00\x00\x01"[:cut])
            s.close()
        # Garbage instead of HTTP/2, and a client speaking only http/1.1.
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.srv.port), timeout=5),
                            server_hostname="localhost")
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
        rc, _, _ = self.curl("--http1.1", urls=["/3/device/h1"], data="{}", check=False)
        self.assertNotEqual(rc, 0)
        # Client disconnecting with a request in flight that hangs.
        self.srv.behave("stuck", [("hang",)])
        self.curl(urls=["/3/device/stuck"], data="{}", max_time=1, check=False)
        _, codes, _ = self.curl(urls=["/3/device/after"], data="{}")
        self.assertEqual(codes, [("200", "2")])
        wait_for(lambda: self.srv.open_connections() == 0, what="connections to close")

    def test_keys_and_jwt_helpers(self):
        d = tempfile.mkdtemp(dir=self.dir)
        p8, pub = make_apns_key(d, "KEYID12345")
        with open(p8) as f:
            self.assertIn("-----BEGIN PRIVATE KEY-----", f.read())
        header = b64url(json.dumps({"alg": "ES256", "kid": "KEYID12345"}).encode())
        claims = b64url(json.dumps({"iss": "TEAM123456", "iat": int(time.time())}).encode())
        data = os.path.join(d, "data")
        with open(data, "w") as f:
            f.write(header + "." + claims)
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", p8, data],
                             capture_output=True, check=True).stdout
        # DER ECDSA -> raw R||S.
        i = 2 + (1 if der[1] & 0x80 else 0)
        ints = []
        for _ in range(2):
            ln = der[i + 1]
            ints.append(der[i + 2:i + 2 + ln].lstrip(b"\0").rjust(32, b"\0"))
            i += 2 + ln
        jwt = header + "." + claims + "." + b64url(b"".join(ints))
        h, c = verify_jwt(jwt, pub, alg="ES256")
        self.assertEqual((h["kid"], c["iss"]), ("KEYID12345", "TEAM123456"))
        with self.assertRaises(AssertionError):
            verify_jwt(jwt[:-3] + ("AAA" if jwt[-3:] != "AAA" else "BBB"), pub)

        sa_path, sa_pub = make_service_account(d, self.srv.token_uri)
        with open(sa_path) as f:
            sa = json.load(f)
        self.assertEqual(sa["type"], "service_account")
        self.assertEqual(sa["project_id"], "test-project")
        self.assertEqual(sa["client_email"], "bridge@test-project.iam.gserviceaccount.com")
        self.assertEqual(sa["token_uri"], self.srv.token_uri)
        self.assertTrue(sa["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n"))
        key = os.path.join(d, "sa.key")
        with open(key, "w") as f:
            f.write(sa["private_key"])
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT",
                                    "kid": sa["private_key_id"]}).encode())
        claims = b64url(json.dumps({"iss": sa["client_email"], "aud": sa["token_uri"]}).encode())
        with open(data, "w") as f:
            f.write(header + "." + claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, data],
                             capture_output=True, check=True).stdout
        h, c = verify_jwt(header + "." + claims + "." + b64url(sig), sa_pub, alg="RS256")
        self.assertEqual(c["aud"], self.srv.token_uri)
        self.assertEqual(decode_jwt(header + "." + claims + "." + b64url(sig))[0]["alg"], "RS256")


if __name__ == "__main__":
    main()
