"""An S3-compatible object store for the attachment tests: s3rver (npm, in
web/node_modules: web/tools/prepare.sh installs it) on a free loopback port,
path-style, its data in a temp dir, one bucket; and a SigV4 checking proxy in
front of it.

Why the proxy: s3rver 3.7.1 checks a presigned URL's access key and its
expiry (X-Amz-Date + X-Amz-Expires) but not its Signature V4 signature
(lib/middleware/authentication.js: "Signature version 4 calculation is
unimplemented"), so it would take a forged signature, a larger body or
another content type than the URL signed. test_attachments.py shows that.
The proxy is an independent implementation of AWS's presigned-URL check (the
verifying side, written from the AWS docs, in Python's hmac/hashlib): it
recomputes the signature from the request it received (method, path,
query, and the signed headers as sent: host, content-type, content-length),
refuses a mismatch or an expired URL with 403 as S3 does, and forwards the
rest to s3rver. Real S3 and MinIO check all of this themselves."""

import hashlib
import hmac
import http.client
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from harness import free_port, port_open, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
S3RVER_JS = os.path.join(ROOT, "web", "node_modules", "s3rver", "bin", "s3rver.js")
CORS_XML = os.path.join(ROOT, "config", "s3rver-cors.xml")
ACCESS_KEY = SECRET_KEY = "S3RVER"  # s3rver's built-in account
BUCKET = "mqchat-test"


def _enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def presigned_check(method, raw_path, raw_query, headers, secret, now=None):
    """None if the presigned request verifies, else why not. headers: lower-
    case name -> value as received."""
    q = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
    for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
              "X-Amz-SignedHeaders", "X-Amz-Signature"):
        if k not in q:
            return "missing " + k
    sig = q.pop("X-Amz-Signature")
    signed = q["X-Amz-SignedHeaders"].split(";")
    if "host" not in signed:
        return "host not signed"
    uri = urllib.parse.quote(urllib.parse.unquote(raw_path), safe="/-_.~")
    query = "&".join("%s=%s" % (_enc(k), _enc(v)) for k, v in sorted(q.items()))
    canon_headers = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split()))
                            for h in signed)
    creq = "\n".join([method, uri, query, canon_headers, ";".join(signed), "UNSIGNED-PAYLOAD"])
    cred = q["X-Amz-Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        return "bad credential"
    sts = "\n".join(["AWS4-HMAC-SHA256", q["X-Amz-Date"], "/".join(cred[1:]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in cred[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return "SignatureDoesNotMatch"
    t = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    if now > t.timestamp() + int(q["X-Amz-Expires"]):
        return "Request has expired"
    return None


class S3rver:
    """s3rver on a free loopback port, path-style, data in a temp dir."""

    def __init__(self, workdir=None):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="mqchat-s3-")
        self.port = free_port()
        self.proc = None

    def start(self):
        if not os.path.exists(S3RVER_JS):
            raise AssertionError("s3rver is not installed: run bash web/tools/prepare.sh "
                                 "(npm ci in web/)")
        data = os.path.join(self.dir, "s3data")
        os.makedirs(data, exist_ok=True)
        self.log = open(os.path.join(self.dir, "s3rver.log"), "ab")
        self.proc = subprocess.Popen(
            ["node", S3RVER_JS, "-d", data, "-a", "127.0.0.1", "-p", str(self.port),
             "--no-vhost-buckets", "--configure-bucket", BUCKET, CORS_XML],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._alive() and port_open(self.port), what="s3rver to listen")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("s3rver exited with %s" % self.proc.returncode)
        return True

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _handle(self):
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        n = int(headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        why = presigned_check(self.command, path, query, headers, SECRET_KEY)
        if why:
            self.server.refused.append((self.command, why))
            msg = ("<Error><Code>%s</Code><Message>%s</Message></Error>" %
                   ("AccessDenied" if "expired" in why else "SignatureDoesNotMatch", why)).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=10)
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        up.request(self.command, self.path, body=body if n else None, headers=fwd)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_HEAD = _handle


class VerifyingProxy:
    """The SigV4 check in front of upstream_port (see the module comment)."""

    def __init__(self, upstream_port):
        self.port = free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _ProxyHandler)
        self.srv.daemon_threads = True
        self.srv.upstream_port = upstream_port
        self.srv.refused = []
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def refused(self):
        return self.srv.refused

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)
