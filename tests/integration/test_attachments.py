"""Attachments (PROTOCOL.md "Attachments") against a real object store:
s3rver on a free loopback port (path-style, data in a temp dir) behind a
SigV4 checking proxy (s3stack.py says why). upload then a real PUT, a
message carrying the attachment, download and a real GET by a member; a
non-member, another conversation's key and made-up keys refused by the
broker; a forged signature, a larger or other-typed PUT than declared, and
an expired URL refused by the store; too_large; unavailable without a
configured store; key format; and what s3rver alone checks."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from fanout import conv_jobs_key
from harness import CLI, DEFAULT_TIMEOUT, Broker, Chat, Stack, main, wait_for
from s3stack import ACCESS_KEY, BUCKET, SECRET_KEY, S3rver, VerifyingProxy, presigned_check

MAX = 100000
KEY_RE = r"^%s/[0-9a-f]{32}(/[A-Za-z0-9._-]{1,64})?$"


def http(method, url, data=None, headers=None):
    """(status, body) of a real HTTP request (no proxy from the environment)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=DEFAULT_TIMEOUT) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def store_options(endpoint, secret_file, **more):
    return dict({"s3_endpoint": endpoint, "s3_bucket": BUCKET, "s3_access_key": ACCESS_KEY,
                 "s3_secret_key_file": secret_file, "s3_path_style": "true",
                 "max_upload_bytes": MAX}, **more)


class AttachmentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mqchat-attach-")
        cls.secret = os.path.join(cls.tmp, "s3.secret")
        with open(cls.secret, "w") as f:
            f.write(SECRET_KEY + "\n")
        cls.s3 = S3rver(cls.tmp).start()
        cls.proxy = VerifyingProxy(cls.s3.port).start()
        cls.stack = Stack(options=store_options(cls.proxy.url(), cls.secret)).__enter__()
        for u in ("alice", "bob", "carol", "mallory", "dave"):
            cls.stack.add_user(u, u + "-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)
        cls.proxy.stop()
        cls.s3.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def chat(self, user):
        return Chat(self.stack, user, user + "-pw")

    def upload(self, c, conv, name="cat.jpg", type="image/jpeg", size=10):
        return c.ok("upload", conv=conv, name=name, type=type, size=size)

    def test_verifier_agrees_with_aws_example(self):
        # The proxy's check itself, on AWS's published presigned GET example
        # (S3 API Reference, "Authenticating Requests: Using Query
        # Parameters"): it must accept it at its own time and not a day later.
        q = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
             "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
             "&X-Amz-SignedHeaders=host&X-Amz-Signature="
             "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        h = {"host": "examplebucket.s3.amazonaws.com"}
        secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        self.assertIsNone(presigned_check("GET", "/test.txt", q, h, secret, now=1369353600))
        self.assertEqual(presigned_check("GET", "/test.txt", q, h, secret,
                                         now=1369353600 + 86401), "Request has expired")
        self.assertEqual(presigned_check("GET", "/test2.txt", q, h, secret, now=1369353600),
                         "SignatureDoesNotMatch")

    def test_upload_then_download_by_a_member(self):
        a, b = self.chat("alice"), self.chat("bob")
        conv = a.direct("bob")
        data = bytes(range(256)) * 40
        before = time.time()
        r = self.upload(a, conv, name="holiday photo.jpg", size=len(data))
        self.assertRegex(r["key"], KEY_RE % conv)
        self.assertTrue(r["key"].endswith("/holiday_photo.jpg"), r["key"])
        self.assertEqual(r["headers"], {"Content-Type": "image/jpeg"})
        self.assertTrue(r["put_url"].startswith("%s/%s/%s?" % (self.proxy.url(), BUCKET,
                                                               r["key"])), r["put_url"])
        self.assertIn("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost", r["put_url"])
        self.assertAlmostEqual(r["expires"] / 1000.0, before + 900, delta=30)
        status, _ = http("PUT", r["put_url"], data, r["headers"])
        self.assertEqual(status, 200)
        att = {"key": r["key"], "name": "holiday photo.jpg", "type": "image/jpeg",
               "size": len(data)}
        a.send(conv, "m1", "", attrs={"attachment": att})
        got = b.msg(conv, "m1")
        self.assertEqual(got["attrs"]["attachment"], att)
        d = b.ok("download", conv=conv, key=got["attrs"]["attachment"]["key"])
        self.assertIn("X-Amz-SignedHeaders=host&", d["url"])
        status, body = http("GET", d["url"])
        self.assertEqual(status, 200)
        self.assertEqual(body, data)
        # The sender may download too; the URL of a key never PUT answers 404.
        self.assertEqual(http("GET", a.ok("download", conv=conv, key=r["key"])["url"])[1], data)
        other = self.upload(a, conv)["key"]
        self.assertEqual(http("GET", a.ok("download", conv=conv, key=other)["url"])[0], 404)

    def test_non_member_and_other_conversations_refused(self):
        a, c, m = self.chat("alice"), self.chat("carol"), self.chat("mallory")
        ab = a.direct("bob")
        ac = a.direct("carol")
        key = self.upload(a, ab)["key"]
        # mallory shares nothing with alice and bob: not_member either way.
        self.assertEqual(m.req("upload", conv=ab, name="x", type="text/plain",
                               size=1)["code"], "not_member")
        self.assertEqual(m.req("download", conv=ab, key=key)["code"], "not_member")
        # carol is a member of ac, not of ab: ab's key asked for through ac
        # is not_found, through ab not_member.
        self.assertEqual(c.req("download", conv=ac, key=key)["code"], "not_found")
        self.assertEqual(c.req("download", conv=ab, key=key)["code"], "not_member")
        # Made-up keys never reach the store: not_found.
        suffix = key.split("/", 1)[1]
        for bad in ("%s/../%s" % (ac, key), "%s/%s" % (ac, "0" * 31),
                    "%s/%s/../../x" % (ac, "0" * 32), "%s/%s/a/b" % (ac, "0" * 32),
                    ac + "/" + suffix.upper(), "/" + key, key):
            self.assertEqual(a.req("download", conv=ac, key=bad)["code"], "not_found", bad)
        self.assertEqual(a.req("download", conv=ac)["code"], "bad_request")

    def test_store_refuses_what_the_url_did_not_sign(self):
        a = self.chat("alice")
        conv = a.direct("bob")
        r = self.upload(a, conv, type="image/png", size=10)
        n = len(self.proxy.refused)
        self.assertEqual(http("PUT", r["put_url"], b"x" * 11, {"Content-Type": "image/png"})[0],
                         403)
        self.assertEqual(http("PUT", r["put_url"], b"x" * 9, {"Content-Type": "image/png"})[0],
                         403)
        self.assertEqual(http("PUT", r["put_url"], b"x" * 10, {"Content-Type": "text/html"})[0],
                         403)
        forged = re.sub(r"X-Amz-Signature=([0-9a-f])",
                        lambda mo: "X-Amz-Signature=" + ("1" if mo.group(1) != "1" else "2"),
                        r["put_url"])
        self.assertEqual(http("PUT", forged, b"x" * 10, {"Content-Type": "image/png"})[0], 403)
        # The other bucket path, same signature: refused.
        moved = r["put_url"].replace("/%s/" % conv, "/%s/" % "someone-else", 1)
        self.assertEqual(http("PUT", moved, b"x" * 10, {"Content-Type": "image/png"})[0], 403)
        self.assertEqual([w for _, w in self.proxy.refused[n:]], ["SignatureDoesNotMatch"] * 5)
        # Nothing of those reached the bucket; the declared upload does.
        get = a.ok("download", conv=conv, key=r["key"])["url"]
        self.assertEqual(http("GET", get)[0], 404)
        self.assertEqual(http("PUT", r["put_url"], b"x" * 10, {"Content-Type": "image/png"})[0],
                         200)
        self.assertEqual(http("GET", get), (200, b"x" * 10))
        # A download URL is a GET URL: it cannot be used to write.
        self.assertEqual(http("PUT", get, b"y" * 10, {"Content-Type": "image/png"})[0], 403)

    def test_push_preview_of_an_attachment(self):
        # dave never connects: the message's job (one per message, in its
        # conversation's slot job stream, expanded later by mqchat-push)
        # carries the preview of core/preview.c.
        a = self.chat("alice")
        conv = a.direct("dave")
        photo = self.upload(a, conv, name="p.jpg")
        doc = self.upload(a, conv, name="plan.pdf", type="application/pdf")
        for mid, r, body in (("pv1", photo, ""), ("pv2", doc, ""), ("pv3", doc, "see plan")):
            att = {"key": r["key"], "name": mid == "pv1" and "p.jpg" or "plan.pdf",
                   "type": mid == "pv1" and "image/jpeg" or "application/pdf", "size": 10}
            a.send(conv, mid, body, attrs={"attachment": att})
            a.msg(conv, mid)

        def previews():
            out = {}
            for _, fields in self.stack.redis.call("XRANGE", conv_jobs_key(conv), "-", "+"):
                f = dict(zip(fields[::2], fields[1::2]))
                if f.get(b"c") == conv.encode() and f.get(b"k") == b"msg":
                    out[int(f[b"s"])] = f.get(b"p", b"").decode()
            return out
        got = wait_for(lambda: len(previews()) >= 3 and previews(), what="dave's push jobs")
        self.assertEqual([got[s] for s in sorted(got)],
                         ["\U0001F4F7 Photo", "\U0001F4CE plan.pdf", "see plan"])

    def test_what_s3rver_alone_checks(self):
        # The same URLs sent to s3rver itself, without the proxy. It checks
        # the access key and the expiry, not the V4 signature (s3rver 3.7.1:
        # "Signature version 4 calculation is unimplemented"): this records
        # it, and fails if a new s3rver starts checking, so that the proxy
        # can go.
        a = self.chat("alice")
        conv = a.direct("bob")
        r = self.upload(a, conv, type="image/png", size=10)
        direct = r["put_url"].replace(self.proxy.url(), self.s3.url(), 1)
        forged = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, direct)
        self.assertEqual(http("PUT", forged, b"x" * 11, {"Content-Type": "text/html"})[0], 200)
        unknown = direct.replace("Credential=" + ACCESS_KEY, "Credential=NOBODY", 1)
        self.assertEqual(http("PUT", unknown, b"x" * 10, {"Content-Type": "image/png"})[0], 403)

    def test_too_large_and_bad_requests(self):
        a = self.chat("alice")
        conv = a.direct("bob")
        e = a.req("upload", conv=conv, name="big.bin", type="application/octet-stream",
                  size=MAX + 1)
        self.assertEqual(e["code"], "too_large")
        self.upload(a, conv, name="max.bin", type="application/octet-stream", size=MAX)
        self.upload(a, conv, name="empty.txt", type="text/plain", size=0)
        for bad in ({"name": "x", "type": "image/jpeg; q=1", "size": 1},
                    {"name": "x", "type": "jpeg", "size": 1},
                    {"name": "x", "size": 1},
                    {"name": "", "type": "text/plain", "size": 1},
                    {"name": "x" * 256, "type": "text/plain", "size": 1},
                    {"name": "x", "type": "text/plain", "size": -1},
                    {"name": "x", "type": "text/plain", "size": 1.5},
                    {"name": "x", "type": "text/plain"}):
            self.assertEqual(a.req("upload", conv=conv, **bad)["code"], "bad_request", bad)
        self.assertEqual(a.req("upload", conv="a/b", name="x", type="text/plain",
                               size=1)["code"], "bad_request")

    def test_keys_are_unguessable_and_free_of_user_paths(self):
        a = self.chat("alice")
        conv = a.direct("bob")
        keys = set()
        for name in ("../../etc/passwd", "a/b/c.txt", "..", "%2e%2e%2fx", "\u00e9t\u00e9.png",
                     "x" * 200 + ".pdf", "normal.pdf"):
            k = self.upload(a, conv, name=name, type="application/pdf")["key"]
            self.assertRegex(k, KEY_RE % conv)
            self.assertNotIn("..", k)
            self.assertEqual(k.count("/"), 2 if len(k) > len(conv) + 33 else 1, k)
            keys.add(k.split("/")[1])
        self.assertEqual(len(keys), 7)  # a fresh 128-bit random part each time
        k = self.upload(a, conv, name="..")["key"]
        self.assertRegex(k, r"^%s/[0-9a-f]{32}$" % conv)
        self.assertTrue(self.upload(a, conv, name="x" * 200 + ".pdf")["key"].endswith(".pdf"))

    def cli_chat(self, user, script, cwd):
        env = dict(os.environ, MQCHAT_PASSWORD=user + "-pw", MQCHAT_STATE_DIR=cwd)
        env.pop("MQCHAT_MQTT", None)
        r = subprocess.run([CLI, "chat", "--user", user, "--mqtt",
                            "127.0.0.1:%d" % self.stack.broker.port], input=script,
                           capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        return r.stdout

    def test_terminal_client_file_and_get(self):
        a = self.chat("alice")
        conv = a.direct("bob")
        work = tempfile.mkdtemp(prefix="mqchat-attach-cli-", dir=self.tmp)
        src = os.path.join(work, "report 2026.pdf")
        data = os.urandom(5000)
        with open(src, "wb") as f:
            f.write(data)
        out = self.cli_chat("alice", "/join %s\n/file %s\n/file /nonexistent\n/quit\n" %
                            (conv, src), work)
        self.assertIn("uploading report 2026.pdf (5000 bytes)", out)
        self.assertIn("/file: cannot read /nonexistent", out)
        m = a.event(lambda e: e.get("t") == "msg" and e.get("conv") == conv and
                    "attachment" in e.get("attrs", {}), what="the /file message")
        att = m["attrs"]["attachment"]
        self.assertEqual((att["name"], att["type"], att["size"]),
                         ("report 2026.pdf", "application/pdf", 5000))
        self.assertRegex(att["key"], KEY_RE % conv)
        self.assertIn("[file report 2026.pdf, 5000 bytes; /get %d]" % m["seq"], out)
        got = http("GET", a.ok("download", conv=conv, key=att["key"])["url"])
        self.assertEqual(got, (200, data))
        # bob saves it: under its (sanitised) name, then to a path; never over a file.
        a.send(conv, "plain", "no file here")
        plain = a.msg(conv, "plain")["seq"]
        bobdir = tempfile.mkdtemp(prefix="bob-", dir=work)
        out = self.cli_chat("bob", "/join %s\n/get %d\n/get %d\n/get %d copy.bin\n/get %d x\n"
                            "/quit\n" % (conv, m["seq"], m["seq"], m["seq"], plain), bobdir)
        with open(os.path.join(bobdir, "report_2026.pdf"), "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(bobdir, "copy.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertIn("saved report_2026.pdf (5000 bytes)", out)
        self.assertIn("/get: report_2026.pdf exists", out)
        self.assertIn("/get: message %d in %s has no file" % (plain, conv), out)
        # Nothing else left behind (no .part file); the state file is the client's.
        self.assertEqual(sorted(n for n in os.listdir(bobdir) if not n.endswith(".state")),
                         ["copy.bin", "report_2026.pdf"])


class ExpiryTest(unittest.TestCase):
    """URLs live plugin_opt_url_seconds: with 1 s, a URL is refused soon
    after, by s3rver itself (it checks expiry) and by the proxy."""

    def test_expired_urls_refused(self):
        tmp = tempfile.mkdtemp(prefix="mqchat-attach-")
        secret = os.path.join(tmp, "s3.secret")
        with open(secret, "w") as f:
            f.write(SECRET_KEY)
        s3 = S3rver(tmp).start()
        proxy = VerifyingProxy(s3.port).start()
        try:
            with Stack(options=store_options(proxy.url(), secret, url_seconds=1)) as st:
                st.add_user("alice", "pw")
                st.add_user("bob", "pw")
                a = Chat(st, "alice", "pw")
                conv = a.direct("bob")
                r = a.ok("upload", conv=conv, name="a.txt", type="text/plain", size=3)
                self.assertIn("X-Amz-Expires=1&", r["put_url"])
                direct = r["put_url"].replace(proxy.url(), s3.url(), 1)
                hdr = {"Content-Type": "text/plain"}
                wait_for(lambda: http("PUT", direct, b"abc", hdr)[0] == 403, timeout=15,
                         what="s3rver to refuse the expired URL")
                status, body = http("PUT", direct, b"abc", hdr)
                self.assertIn(b"Request has expired", body)
                self.assertEqual(http("PUT", r["put_url"], b"abc", hdr)[0], 403)
                self.assertEqual(proxy.refused[-1][1], "Request has expired")
                d = a.ok("download", conv=conv, key=r["key"])
                self.assertIn("X-Amz-Expires=1&", d["url"])
                wait_for(lambda: http("GET", d["url"])[0] == 403, timeout=15,
                         what="the download URL to expire")
        finally:
            proxy.stop()
            s3.stop()
            shutil.rmtree(tmp, ignore_errors=True)


class NoStoreTest(unittest.TestCase):
    def test_unavailable_without_a_store(self):
        with Stack() as st:
            st.add_user("alice", "pw")
            st.add_user("bob", "pw")
            a = Chat(st, "alice", "pw")
            conv = a.direct("bob")
            e = a.req("upload", conv=conv, name="a.txt", type="text/plain", size=3)
            self.assertEqual(e["code"], "unavailable")
            e = a.req("download", conv=conv, key=conv + "/" + "0" * 32)
            self.assertEqual(e["code"], "unavailable")

    def test_bad_store_options_refuse_to_start(self):
        tmp = tempfile.mkdtemp(prefix="mqchat-attach-")
        try:
            secret = os.path.join(tmp, "s3.secret")
            cases = [
                ({"s3_endpoint": "http://127.0.0.1:9"}, "s3_bucket: missing"),
                ({"s3_endpoint": "ftp://x", "s3_bucket": "bkt"}, "s3_endpoint"),
                (store_options("http://127.0.0.1:9", secret, s3_bucket="Bad_Bucket"),
                 "s3_bucket"),
                (store_options("http://127.0.0.1:9", secret, url_seconds=604801),
                 "url_seconds"),
                (store_options("http://127.0.0.1:9", secret), "s3_secret_key_file"),
            ]
            for opts, want in cases:
                b = Broker(tmp, 9, opts, name="bad%d" % len(want))
                b.start(wait=False)
                try:
                    b.proc.wait(DEFAULT_TIMEOUT)
                except Exception:
                    b.stop()
                    self.fail("broker started with %r" % opts)
                self.assertNotEqual(b.proc.returncode, 0)
                self.assertIn(want, b.log_text(), opts)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
