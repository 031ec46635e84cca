"""JWT passwords end to end: a broker configured with an HS256 secret and an
RS256 public key admits tokens whose sub is the username (users need not exist
in Redis: the token creates them), refuses every forged, confused, expired or
mis-addressed token, still admits plain passwords, and drops a session whose
token expired when SIGHUP re-runs authentication. Tokens are signed here with
Python's hmac and the openssl command line."""
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import unittest

from harness import V311, V5, Chat, Stack, main, wait_for

NOT_AUTH_V3 = 5
NOT_AUTH_V5 = 135
SECRET = "jwt-test-secret-0123456789-abcdefghij"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_input(header, claims):
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


def hs256(claims, secret=SECRET, header=None):
    inp = signing_input(header or {"alg": "HS256", "typ": "JWT"}, claims)
    key = secret if isinstance(secret, bytes) else secret.encode()
    return inp + "." + b64(hmac.new(key, inp.encode(), hashlib.sha256).digest())


class JwtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = __import__("tempfile").mkdtemp(prefix="mqchat-jwt-")
        cls.key = os.path.join(cls.tmp, "rsa.pem")
        cls.pub = os.path.join(cls.tmp, "rsa.pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", cls.key], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", cls.key, "-pubout", "-out", cls.pub],
                       check=True, capture_output=True)
        os.chmod(cls.tmp, 0o755)
        os.chmod(cls.pub, 0o644)
        cls.stack = Stack({"jwt_secret": SECRET, "jwt_public_key": cls.pub,
                           "jwt_leeway_seconds": "0"}).__enter__()
        cls.stack.add_user("alice", "alice-pw")
        cls.stack.add_user("dots", "my.pass.word")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        __import__("shutil").rmtree(cls.tmp, ignore_errors=True)

    def rs256(self, claims):
        inp = signing_input({"alg": "RS256", "typ": "JWT"}, claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=inp.encode(),
                             check=True, capture_output=True).stdout
        return inp + "." + b64(sig)

    def connect(self, user, pw, protocol=V311):
        c = self.stack.client(user, pw, protocol=protocol, connect=False)
        rc = c.connect()
        c.close()
        return rc

    def claims(self, sub, ttl=600, **extra):
        return dict({"sub": sub, "exp": int(time.time()) + ttl}, **extra)

    def test_valid_tokens_admit_users_unknown_to_redis(self):
        self.assertEqual(self.connect("dave", hs256(self.claims("dave"))), 0)
        self.assertEqual(self.connect("erin", self.rs256(self.claims("erin")), V5), 0)
        r = self.stack.redis
        self.assertEqual(r.call("HGET", "mqchat:{u:dave}:user", "via"), b"jwt")
        self.assertIsNone(r.call("HGET", "mqchat:{u:dave}:user", "pw"))
        self.assertEqual(r.call("SISMEMBER", "mqchat:users", "erin"), 1)
        # A token user has no password: a password login stays refused.
        self.assertEqual(self.connect("dave", "anything"), NOT_AUTH_V3)

    def test_token_user_chats_with_password_user(self):
        frank = Chat(self.stack, "frank", hs256(self.claims("frank")))
        alice = Chat(self.stack, "alice", "alice-pw")
        conv = alice.direct("frank")
        alice.send(conv, "j1", "hello token user")
        self.assertEqual(frank.msg(conv, "j1")["body"], "hello token user")
        frank.close()
        alice.close()

    def test_forged_and_misused_tokens_refused(self):
        now = int(time.time())
        pem = open(self.pub, "rb").read()
        cases = {
            "wrong secret": hs256(self.claims("gina"), secret="another-secret-another-secret"),
            "sub of someone else": hs256(self.claims("alice")),
            "expired": hs256({"sub": "gina", "exp": now - 5}),
            "no exp": hs256({"sub": "gina"}),
            "not yet valid": hs256(self.claims("gina", nbf=now + 300)),
            "alg none": signing_input({"alg": "none"}, self.claims("gina")) + ".",
            "alg none signed": signing_input({"alg": "none"}, self.claims("gina")) + ".eA",
            "HS256 keyed with the RSA public key": hs256(self.claims("gina"), secret=pem),
            "crit header": hs256(self.claims("gina"), header={"alg": "HS256", "crit": ["x"]}),
            "ES256 with no EC key": hs256(self.claims("gina"), header={"alg": "ES256"}),
        }
        for what, token in cases.items():
            with self.subTest(what=what):
                self.assertEqual(self.connect("gina", token), NOT_AUTH_V3)
        # Tampered claims keep the old signature.
        good = self.rs256(self.claims("hank"))
        h, _, s = good.split(".")
        forged = h + "." + b64(json.dumps(self.claims("gina")).encode()) + "." + s
        self.assertEqual(self.connect("gina", forged, V5), NOT_AUTH_V5)
        # None of them created the user.
        self.assertEqual(self.stack.redis.call("EXISTS", "mqchat:{u:gina}:user"), 0)
        log = self.stack.broker.log_text()
        self.assertIn("auth: refused: token bad signature (user=gina)", log)
        self.assertIn("auth: refused: token expired (user=gina)", log)
        self.assertNotIn(good, log)  # tokens are never logged

    def test_passwords_still_work(self):
        self.assertEqual(self.connect("alice", "alice-pw"), 0)
        self.assertEqual(self.connect("alice", "wrong"), NOT_AUTH_V3)
        # A password with dots is not mistaken for a token.
        self.assertEqual(self.connect("dots", "my.pass.word"), 0)

    def test_expired_session_dropped_on_reload(self):
        exp = int(time.time()) + 2
        c = self.stack.client("ivan", hs256({"sub": "ivan", "exp": exp}), connect=False)
        self.assertEqual(c.connect(), 0)
        # Wait (on the clock, with a deadline) until the token has expired.
        wait_for(lambda: time.time() >= exp + 1, timeout=10, what="token expiry")
        self.assertFalse(c.disconnected.is_set())
        os.kill(self.stack.broker.proc.pid, signal.SIGHUP)
        wait_for(c.disconnected.is_set, what="expired session dropped after SIGHUP")
        c.close()


if __name__ == "__main__":
    main()
