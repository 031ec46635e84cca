"""Fake APNs / FCM / Google OAuth endpoints for the push bridge tests.

One HTTP/2-over-TLS server (ALPN h2 only) on 127.0.0.1, on a port the kernel
picks, running an asyncio loop in a background thread. It serves three roles
at once, told apart by path:

  APNs   POST /3/device/<token>
  FCM    POST /v1/projects/<project>/messages:send   (token = body message.token)
  OAuth  POST /token                                 (jwt-bearer grant)

Everything is made at test time: a throwaway CA and a server certificate for
127.0.0.1/localhost (make_ca), an APNs .p8 key (make_apns_key) and a Google
service-account JSON (make_service_account). Certificate verification stays
on: the client is given the CA file. Nothing here touches the network beyond
loopback.

Usage (see test_fakepush.py and the bottom of this docstring):

    with FakePushServer() as srv:              # makes its own CA in a temp dir
        srv.ca_file, srv.url, srv.token_uri
        srv.behave("aabb", [step(410, {"reason": "Unregistered"})])
        srv.behave("fcm-tok", [fcm_step("UNAVAILABLE"), ("ok",)])
        srv.goaway_every(100)
        ... run the bridge with apns_base_url/fcm_base_url = srv.url ...
        reqs = srv.wait_requests(3, timeout=10, kind="apns")
        hdr, claims = verify_jwt(reqs[0].bearer(), apns_pub)

Server API (thread-safe): srv.url / url_localhost / token_uri / ca_file / port;
behave(key, steps); goaway_every(n, last="processed"|"received");
goaway_now(); drop_connections(); revoke_access_tokens(); revoke_access_token(t);
attributes oauth_expires_in, strict_auth (FCM 401 for never-issued tokens);
requests(path_prefix=None, kind=None, token=None) -> [Request] (a copy);
wait_requests(n, timeout, ...) / wait_responses(n, timeout, ...) -> list or
AssertionError; clear(); tokens_issued, connections_accepted, responses_sent,
open_connections(); stop(). Request: method, path, headers (dict of str,
pseudo-headers included), body, json(), bearer(), time, completed, stream_id,
conn_id, kind, token, project, form, issued_token, step, status (None if never
answered), response_headers, response_body.

FCM answers 401 UNAUTHENTICATED (without consuming a behaviour step) when the
bearer is missing, revoked, expired (oauth_expires_in is enforced) or, with
strict_auth, never issued. Requests a GOAWAY refused (stream id above its
last_stream_id) are not recorded. FAKEPUSH_VERBOSE=1 logs connection events.

Behaviour steps (one per request for that token, in order; the last repeats):
    ("ok",)                              the endpoint's normal success
    ("status", code[, body[, headers]])  body: dict -> JSON, str/bytes as is;
                                         APNs 410 dict bodies get "timestamp"
    ("hang",)                            never answer that stream
    ("delay", seconds[, step])           answer after a delay (default ("ok",))
    ("reset"[, h2_error_code])           RST_STREAM (default INTERNAL_ERROR=2)
    ("goaway"[, error_code[, debug]])    GOAWAY that leaves this stream
                                         unprocessed (client must resend),
                                         then a graceful close
    ("drop",)                            abort the TCP connection at once
"""

import asyncio
import base64
import itertools
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

OAUTH = "@oauth"  # behave() key for the /token endpoint
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# ---------------------------------------------------------------------------
# Keys and certificates (openssl CLI)

def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True,
                       cwd=cwd, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def make_ca(dir):
    """A throwaway CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost)
    signed by it. Returns (ca_cert, server_cert, server_key) paths."""
    os.makedirs(dir, exist_ok=True)
    ca_key = os.path.join(dir, "ca.key")
    ca_cert = os.path.join(dir, "ca.pem")
    srv_key = os.path.join(dir, "server.key")
    srv_csr = os.path.join(dir, "server.csr")
    srv_cert = os.path.join(dir, "server.pem")
    ext = os.path.join(dir, "server.ext")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-sha256",
             "-subj", "/CN=mqchat fakepush test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", srv_key, "-out", srv_csr, "-sha256",
             "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", srv_csr, "-CA", ca_cert, "-CAkey", ca_key,
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
             "-sha256", "-out", srv_cert, "-extfile", ext)
    return ca_cert, srv_cert, srv_key


def make_apns_key(dir, key_id="ABCDE12345"):
    """An EC P-256 private key in PKCS#8 PEM, like Apple's AuthKey_<id>.p8.
    Returns (p8_path, public_key_pem_path)."""
    os.makedirs(dir, exist_ok=True)
    p8 = os.path.join(dir, "AuthKey_%s.p8" % key_id)
    pub = os.path.join(dir, "AuthKey_%s.pub.pem" % key_id)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", p8)
    _openssl("pkey", "-in", p8, "-pubout", "-out", pub)
    return p8, pub


def make_service_account(dir, token_uri, project_id="test-project",
                         client_email="bridge@test-project.iam.gserviceaccount.com"):
    """A Google service-account JSON with an RSA 2048 PKCS#8 key.
    Returns (json_path, public_key_pem_path)."""
    os.makedirs(dir, exist_ok=True)
    key = os.path.join(dir, "sa.key")
    pub = os.path.join(dir, "sa.pub.pem")
    path = os.path.join(dir, "service-account.json")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    _openssl("pkey", "-in", key, "-pubout", "-out", pub)
    with open(key) as f:
        pem = f.read()
    sa = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": os.urandom(20).hex(),
        "private_key": pem,
        "client_email": client_email,
        "client_id": "1%020d" % int.from_bytes(os.urandom(8), "big"),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + urllib.parse.quote(client_email),
        "universe_domain": "googleapis.com",
    }
    with open(path, "w") as f:
        json.dump(sa, f, indent=2)
    os.remove(key)
    return path, pub


# ---------------------------------------------------------------------------
# JWT helpers (for tests checking the bridge's provider tokens / assertions)

def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def decode_jwt(token):
    """Split a compact JWS without verifying it: (header, claims, signing_input,
    signature). Raises AssertionError if malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AssertionError("JWT must have 3 parts: %r" % token[:80])
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except Exception as e:
        raise AssertionError("malformed JWT %r: %s" % (token[:80], e))
    if any(c in p for p in parts for c in "=+/"):
        raise AssertionError("JWT is not unpadded base64url: %r" % token[:80])
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), sig


def _der_int(b):
    b = b.lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


def _ecdsa_raw_to_der(sig):
    body = _der_int(sig[:32]) + _der_int(sig[32:])
    return b"\x30" + bytes([len(body)]) + body


def verify_jwt(token, pub_pem_path, alg=None):
    """Verify an ES256 (raw 64-byte R||S) or RS256 JWS against a public key
    PEM with the openssl CLI. Returns (header, claims); raises AssertionError."""
    header, claims, signing_input, sig = decode_jwt(token)
    a = header.get("alg")
    if alg is not None and a != alg:
        raise AssertionError("JWT alg %r, expected %r" % (a, alg))
    if a == "ES256":
        if len(sig) != 64:
            raise AssertionError("ES256 signature must be 64 raw bytes, got %d" % len(sig))
        der = _ecdsa_raw_to_der(sig)
    elif a == "RS256":
        der = sig
    else:
        raise AssertionError("unsupported JWT alg %r" % a)
    d = tempfile.mkdtemp(prefix="fakepush-jwt-")
    try:
        with open(os.path.join(d, "data"), "wb") as f:
            f.write(signing_input)
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(der)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub_pem_path,
                            "-signature", os.path.join(d, "sig"), os.path.join(d, "data")],
                           capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if r.returncode != 0 or "Verified OK" not in r.stdout:
        raise AssertionError("JWT signature does not verify (%s): %s %s" %
                             (a, r.stdout.strip(), r.stderr.strip()))
    return header, claims


# ---------------------------------------------------------------------------
# Behaviour steps

_FCM_ERRORS = {
    # errorCode: (http status, google.rpc status, message)
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT",
                         "The registration token is not a valid FCM registration token"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}


def fcm_error(error_code, status=None, message=None, code=None):
    """FCM HTTP v1 error JSON (a dict) for errorCode, e.g. fcm_error("UNREGISTERED")."""
    http, st, msg = _FCM_ERRORS.get(error_code, (500, "INTERNAL", error_code))
    err = {"code": code or http, "message": message or msg, "status": status or st}
    if error_code is not None:
        err["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                           "errorCode": error_code}]
    return {"error": err}


def fcm_http_status(error_code):
    return _FCM_ERRORS.get(error_code, (500,))[0]


def fcm_step(error_code, headers=None):
    """A ("status", http, fcm_error(...), headers) step for an FCM errorCode."""
    return ("status", fcm_http_status(error_code), fcm_error(error_code), headers or {})


def apns_step(status, reason, headers=None):
    """A ("status", status, {"reason": reason}, headers) step for APNs."""
    return ("status", status, {"reason": reason}, headers or {})


def step(status, body=None, headers=None):
    return ("status", status, body, headers or {})


_STEP_KINDS = {"ok", "status", "hang", "delay", "reset", "goaway", "drop"}


def _check_step(s):
    if not isinstance(s, tuple) or not s or s[0] not in _STEP_KINDS:
        raise ValueError("bad behaviour step %r" % (s,))
    if s[0] == "status" and not isinstance(s[1], int):
        raise ValueError("status step needs an int status: %r" % (s,))
    if s[0] == "delay":
        if len(s) > 2:
            _check_step(s[2])


# ---------------------------------------------------------------------------
# Recorded requests

class Request:
    """One recorded request. headers: dict of str (lower-case names, pseudo
    headers included; repeated names joined with ", ")."""

    def __init__(self, conn_id, stream_id, headers, t):
        self.conn_id = conn_id
        self.stream_id = stream_id
        self.headers = headers
        self.method = headers.get(":method", "")
        self.path = headers.get(":path", "")
        self.time = t                  # time.time() when the headers arrived
        self.mono = time.monotonic()   # same instant, monotonic clock
        self.body = b""
        self.completed = None          # time.time() when END_STREAM arrived
        self.kind = "other"            # apns | fcm | oauth | other
        self.token = None              # device token (APNs path / FCM body)
        self.project = None            # FCM project id
        self.form = None               # OAuth form fields
        self.issued_token = None       # OAuth: the access token handed out
        self.step = None               # behaviour step applied
        self.status = None             # response status sent (None: none yet/never)
        self.response_headers = None
        self.response_body = None
        self.answered = None           # time.time() of the response

    def json(self):
        return json.loads(self.body)

    def bearer(self):
        a = self.headers.get("authorization", "")
        return a[7:] if a[:7].lower() == "bearer " else None

    def __repr__(self):
        return "<Request c%d s%d %s %s token=%r status=%r>" % (
            self.conn_id, self.stream_id, self.method, self.path, self.token, self.status)


def _classify(req):
    path = req.path.split("?", 1)[0]
    if path.startswith("/3/device/"):
        req.kind = "apns"
        req.token = urllib.parse.unquote(path[len("/3/device/"):])
    elif path.startswith("/v1/projects/") and path.endswith("/messages:send"):
        req.kind = "fcm"
        req.project = path[len("/v1/projects/"):-len("/messages:send")]
        try:
            req.token = json.loads(req.body)["message"]["token"]
        except Exception:
            req.token = None
    elif path == "/token":
        req.kind = "oauth"
        try:
            req.form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8"),
                                                   keep_blank_values=True))
        except Exception:
            req.form = None


# ---------------------------------------------------------------------------
# One HTTP/2 connection

class _Conn:
    def __init__(self, server, reader, writer, cid):
        self.srv = server
        self.reader = reader
        self.writer = writer
        self.id = cid
        cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: server.max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
        })
        self.reqs = {}          # stream id -> Request (open, ours to answer)
        self.out = {}           # stream id -> [bytes left, end?] blocked by flow control
        self.responses = 0
        self.max_processed = 0  # highest stream id accepted for processing
        self.goaway_last = None  # last_stream_id of our GOAWAY, once sent
        self.closing = False
        self.timers = set()

    # -- output
    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def send_goaway(self, last, error_code=0, debug=b""):
        """GOAWAY written by hand so h2 keeps letting us answer streams <= last."""
        if self.goaway_last is not None:
            last = min(last, self.goaway_last)
        self.goaway_last = last
        self.flush()
        f = GoAwayFrame(stream_id=0, last_stream_id=last, error_code=error_code,
                        additional_data=debug or b"")
        if not self.writer.is_closing():
            self.writer.write(f.serialize())
        for sid in [s for s in self.reqs if s > last]:
            self.reqs.pop(sid, None)
            self.out.pop(sid, None)
        self.srv._log_event("conn %d: GOAWAY last_stream_id=%d" % (self.id, last))
        self.maybe_close()
        # Never wait forever on streams that hang: close after a grace period.
        self.later(self.srv.goaway_grace, self.shutdown)

    def maybe_close(self):
        if self.goaway_last is None or self.closing:
            return
        if any(s <= self.goaway_last for s in self.reqs) or self.out:
            return
        self.closing = True
        self.flush()
        # Linger: let the client read the GOAWAY and close first.
        self.later(self.srv.linger, self.shutdown)

    def shutdown(self):
        self.flush()
        if not self.writer.is_closing():
            self.writer.close()

    def abort(self):
        try:
            self.writer.transport.abort()
        except Exception:
            pass

    def later(self, delay, fn, *args):
        loop = asyncio.get_running_loop()
        h = None

        def run():
            self.timers.discard(h)
            try:
                fn(*args)
            except Exception:
                self.srv._log_exc("conn %d timer" % self.id)
        h = loop.call_later(delay, run)
        self.timers.add(h)
        return h

    def send_body(self, sid, data, end=True):
        self.out[sid] = [data, end]
        self.pump(sid)

    def pump(self, sid):
        ent = self.out.get(sid)
        if ent is None:
            return
        data, end = ent
        try:
            while data:
                n = min(len(data), self.h2.local_flow_control_window(sid),
                        self.h2.max_outbound_frame_size)
                if n <= 0:
                    ent[0] = data
                    self.flush()
                    return
                self.h2.send_data(sid, data[:n])
                data = data[n:]
            if end:
                self.h2.end_stream(sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass
        self.out.pop(sid, None)
        self.flush()
        self.maybe_close()

    def respond(self, req, status, headers=(), body=b""):
        sid = req.stream_id
        if sid not in self.reqs:
            return  # reset by the client, or dropped by our GOAWAY
        del self.reqs[sid]
        hdrs = [(":status", str(status))] + [(k.lower(), str(v)) for k, v in headers]
        if body and not any(k == "content-length" for k, _ in hdrs):
            hdrs.append(("content-length", str(len(body))))
        try:
            self.h2.send_headers(sid, hdrs, end_stream=not body)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self.flush()
            return
        req.status = status
        req.response_headers = dict(headers)
        req.response_body = body
        req.answered = time.time()
        if body:
            self.send_body(sid, body)
        self.responses += 1
        self.srv._count_response()
        self.flush()
        n = self.srv._goaway_every
        if n and self.goaway_last is None and self.responses % n == 0:
            if self.srv._goaway_last_mode == "received":
                self.send_goaway(max(self.max_processed, self.h2.highest_inbound_stream_id))
            else:
                self.send_goaway(self.max_processed)
        self.maybe_close()

    def reset(self, req, code):
        self.reqs.pop(req.stream_id, None)
        try:
            self.h2.reset_stream(req.stream_id, error_code=code)
        except Exception:
            pass
        self.flush()
        self.maybe_close()

    # -- input
    def handle_events(self, events):
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                if self.goaway_last is not None and ev.stream_id > self.goaway_last:
                    continue  # refused by our GOAWAY: the client resends it elsewhere
                headers = {}
                for k, v in ev.headers:
                    k = k.decode("utf-8", "replace").lower()
                    v = v.decode("utf-8", "replace")
                    headers[k] = headers[k] + ", " + v if k in headers else v
                self.reqs[ev.stream_id] = Request(self.id, ev.stream_id, headers, time.time())
                self.reqs[ev.stream_id]._buf = bytearray()
                if ev.stream_ended:
                    self.complete(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived):
                try:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except Exception:
                    pass
                r = self.reqs.get(ev.stream_id)
                if r is not None and r.completed is None:
                    r._buf += ev.data
                    if len(r._buf) > self.srv.max_body:
                        self.reqs.pop(ev.stream_id, None)
                        try:
                            self.h2.reset_stream(ev.stream_id, ErrorCodes.REFUSED_STREAM)
                        except Exception:
                            pass
                if ev.stream_ended:
                    self.complete(ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.complete(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.reqs.pop(ev.stream_id, None)
                self.out.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.WindowUpdated):
                for sid in ([ev.stream_id] if ev.stream_id else list(self.out)):
                    self.pump(sid)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.srv._log_event("conn %d: client GOAWAY code=%s" % (self.id, ev.error_code))
                # The client opens no more streams; answer what is open, then close.
                self.later(self.srv.linger, self.shutdown)
        self.flush()
        self.maybe_close()

    def complete(self, sid):
        r = self.reqs.get(sid)
        if r is None or r.completed is not None:
            return
        r.completed = time.time()
        r.body = bytes(r._buf)
        del r._buf
        _classify(r)
        st = self.srv._record(r)
        if st[0] != "goaway":
            self.max_processed = max(self.max_processed, sid)
        self.apply(r, st)

    def apply(self, r, st):
        kind = st[0]
        if kind == "hang":
            return
        if kind == "delay":
            nxt = st[2] if len(st) > 2 else ("ok",)
            self.later(float(st[1]), self.apply, r, nxt)
            return
        if kind == "reset":
            self.reset(r, st[1] if len(st) > 1 else ErrorCodes.INTERNAL_ERROR)
            return
        if kind == "goaway":
            code = st[1] if len(st) > 1 else 0
            debug = st[2] if len(st) > 2 else b""
            if isinstance(debug, dict):
                debug = json.dumps(debug).encode()
            elif isinstance(debug, str):
                debug = debug.encode()
            self.reqs.pop(r.stream_id, None)
            self.send_goaway(self.max_processed, code, debug)
            return
        if kind == "drop":
            self.srv._log_event("conn %d: dropped" % self.id)
            self.abort()
            return
        status, body, headers = self.srv._make_response(r, st)
        self.respond(r, status, headers, body)

    async def run(self):
        sslobj = self.writer.get_extra_info("ssl_object")
        alpn = sslobj.selected_alpn_protocol() if sslobj else None
        if alpn != "h2":
            self.srv._log_event("conn %d: ALPN %r is not h2, closing" % (self.id, alpn))
            return
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window((1 << 24) - 65535)
        self.flush()
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.srv._log_event("conn %d: protocol error: %r" % (self.id, e))
                self.flush()
                break
            self.handle_events(events)
            if self.writer.is_closing():
                break
            await self.writer.drain()


# ---------------------------------------------------------------------------
# The server

class FakePushServer:
    """See the module docstring. Thread-safe API; everything HTTP/2 runs in
    one asyncio thread."""

    def __init__(self, certs=None, workdir=None, oauth_expires_in=3600,
                 strict_auth=False, max_concurrent_streams=128, start=True, verbose=None):
        self._own_dir = None
        if certs is None:
            if workdir is None:
                workdir = self._own_dir = tempfile.mkdtemp(prefix="fakepush-")
            certs = make_ca(workdir)
        self.workdir = workdir
        self.ca_file, self.cert_file, self.key_file = certs
        self.oauth_expires_in = oauth_expires_in
        self.strict_auth = strict_auth       # FCM: 401 for access tokens never issued
        self.max_concurrent_streams = max_concurrent_streams
        self.max_body = 16 << 20
        self.goaway_grace = 5.0              # max wait for hanging streams after GOAWAY
        self.linger = 1.0                    # wait for the client to close after GOAWAY
        self.verbose = (os.environ.get("FAKEPUSH_VERBOSE") == "1") if verbose is None else verbose
        self._cond = threading.Condition()
        self._records = []
        self._behaviours = {}   # key -> [steps, next index]
        self._goaway_every = 0
        self._goaway_last_mode = "processed"
        self._tokens = {}       # access token -> expiry (monotonic)
        self._revoked = set()
        self._ntokens = 0
        self._nmsg = itertools.count(1)
        self._nconn = 0
        self._nresponses = 0
        self._conns = {}
        self._loop = None
        self._thread = None
        self._server = None
        self.port = None
        if start:
            self.start()

    # -- lifecycle
    def start(self, timeout=10):
        ready = threading.Event()
        err = []

        def main():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.load_cert_chain(self.cert_file, self.key_file)
                ctx.set_alpn_protocols(["h2"])
                ctx.options |= ssl.OP_NO_COMPRESSION
                self._server = loop.run_until_complete(asyncio.start_server(
                    self._accept, "127.0.0.1", 0, ssl=ctx, ssl_handshake_timeout=10,
                    ssl_shutdown_timeout=2, backlog=256))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:
                err.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                except Exception:
                    pass
                loop.close()

        self._thread = threading.Thread(target=main, name="fakepush", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise AssertionError("fakepush server did not start")
        if err:
            raise err[0]
        return self

    def stop(self, timeout=10):
        loop = self._loop
        if loop is None or not self._thread:
            return

        async def shut():
            self._server.close()
            for c in list(self._conns.values()):
                c.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)

        try:
            fut = asyncio.run_coroutine_threadsafe(shut(), loop)
            fut.result(timeout)
        except Exception:
            self._log_exc("stop")
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        self._thread.join(timeout)
        self._thread = None
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def url_localhost(self):
        return "https://localhost:%d" % self.port

    @property
    def token_uri(self):
        return self.url + "/token"

    # -- test-facing configuration
    def behave(self, key, steps):
        """Steps for requests to one device token (APNs path token / FCM
        message.token), or OAUTH for /token; each step serves one request, the
        last repeats. An empty list restores the default."""
        steps = [tuple(s) for s in steps]
        for s in steps:
            _check_step(s)
        with self._cond:
            if steps:
                self._behaviours[key] = [steps, 0]
            else:
                self._behaviours.pop(key, None)

    def goaway_every(self, n, last="processed"):
        """After every n responses on a connection send GOAWAY, answer the
        streams <= its last_stream_id, then close gracefully. 0 = off.
        last="processed": last_stream_id = highest stream whose request was
        complete (streams opened after it are refused: the client must resend
        them on a new connection); last="received": highest stream opened so
        far (every in-flight stream gets its answer; like nghttp2's graceful
        shutdown)."""
        if last not in ("processed", "received"):
            raise ValueError("last must be 'processed' or 'received'")
        with self._cond:
            self._goaway_every = int(n or 0)
            self._goaway_last_mode = last

    def revoke_access_tokens(self):
        """Make every access token issued so far invalid: FCM answers 401."""
        with self._cond:
            self._revoked.update(self._tokens)

    def revoke_access_token(self, token):
        with self._cond:
            self._revoked.add(token)

    @property
    def tokens_issued(self):
        with self._cond:
            return self._ntokens

    @property
    def connections_accepted(self):
        with self._cond:
            return self._nconn

    @property
    def responses_sent(self):
        with self._cond:
            return self._nresponses

    def open_connections(self):
        return len(self._conns)

    def goaway_now(self, error_code=0, debug=b""):
        """Send GOAWAY on every open connection (graceful close)."""
        def go():
            for c in list(self._conns.values()):
                if c.goaway_last is None:
                    c.send_goaway(c.max_processed, error_code, debug)
        self._call(go)

    def drop_connections(self):
        """Abort every open TCP connection, no GOAWAY, no TLS close_notify."""
        def go():
            for c in list(self._conns.values()):
                c.abort()
        self._call(go)

    def _call(self, fn, timeout=10):
        async def wrap():
            fn()
        asyncio.run_coroutine_threadsafe(wrap(), self._loop).result(timeout)

    # -- recorded requests
    def requests(self, path_prefix=None, kind=None, token=None):
        with self._cond:
            return [r for r in self._records if self._match(r, path_prefix, kind, token)]

    @staticmethod
    def _match(r, path_prefix, kind, token):
        return ((path_prefix is None or r.path.startswith(path_prefix)) and
                (kind is None or r.kind == kind) and (token is None or r.token == token))

    def wait_requests(self, n, timeout=10, path_prefix=None, kind=None, token=None):
        """Wait until at least n matching requests are recorded; return them.
        Raises AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._records if self._match(r, path_prefix, kind, token)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fakepush: timed out after %.1fs waiting for %d "
                                         "requests (prefix=%r kind=%r token=%r), have %d: %r"
                                         % (timeout, n, path_prefix, kind, token, len(got),
                                            got[-5:]))
                self._cond.wait(left)

    def wait_responses(self, n, timeout=10, **match):
        """Wait until n matching requests have been answered; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._records if r.status is not None and
                       self._match(r, match.get("path_prefix"), match.get("kind"),
                                   match.get("token"))]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fakepush: timed out waiting for %d responses, "
                                         "have %d" % (n, len(got)))
                self._cond.wait(left)

    def clear(self):
        with self._cond:
            self._records.clear()

    # -- internals (loop thread)
    async def _accept(self, reader, writer):
        with self._cond:
            self._nconn += 1
            cid = self._nconn
        conn = _Conn(self, reader, writer, cid)
        self._conns[cid] = conn
        self._log_event("conn %d: accepted" % cid)
        try:
            await conn.run()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError) as e:
            self._log_event("conn %d: %r" % (cid, e))
        except asyncio.CancelledError:
            pass
        except Exception:
            self._log_exc("conn %d" % cid)
        finally:
            self._conns.pop(cid, None)
            for h in list(conn.timers):
                h.cancel()
            try:
                if not writer.is_closing():
                    try:
                        conn.flush()
                    except Exception:
                        pass
                    writer.close()
                await asyncio.wait_for(writer.wait_closed(), 3)
            except asyncio.CancelledError:
                conn.abort()
            except Exception:
                conn.abort()
            self._log_event("conn %d: closed" % cid)

    def _record(self, r):
        """Record a complete request and pick its behaviour step."""
        key = OAUTH if r.kind == "oauth" else r.token
        with self._cond:
            st = ("ok",)
            auth_fail = r.kind == "fcm" and self._fcm_auth_fails(r)
            if auth_fail:
                st = ("status", 401, fcm_error(None, "UNAUTHENTICATED",
                                               "Request had invalid authentication "
                                               "credentials.", 401), {})
            elif key is not None and key in self._behaviours:
                ent = self._behaviours[key]
                steps, i = ent
                st = steps[min(i, len(steps) - 1)]
                ent[1] = i + 1
            r.step = st
            self._records.append(r)
            self._cond.notify_all()
        return st

    def _fcm_auth_fails(self, r):
        tok = r.bearer()
        if tok is None:
            return True
        if tok in self._revoked:
            return True
        exp = self._tokens.get(tok)
        if exp is None:
            return self.strict_auth
        return time.monotonic() >= exp

    def _count_response(self):
        with self._cond:
            self._nresponses += 1
            self._cond.notify_all()

    def _make_response(self, r, st):
        """(status, body bytes, headers list) for an "ok" or "status" step."""
        status = 200 if st[0] == "ok" else st[1]
        body = st[2] if st[0] == "status" and len(st) > 2 else None
        extra = dict(st[3]) if st[0] == "status" and len(st) > 3 and st[3] else {}
        headers = []
        if r.kind == "apns":
            headers.append(("apns-id", r.headers.get("apns-id") or str(uuid.uuid4())))
            if isinstance(body, dict) and status == 410 and "timestamp" not in body:
                body = dict(body, timestamp=int(time.time() * 1000))
        elif r.kind == "fcm" and status == 200 and body is None:
            if r.token is None:
                status, body = 400, fcm_error("INVALID_ARGUMENT", message="Invalid JSON payload")
            else:
                body = {"name": "projects/%s/messages/0:%d%%%s" % (
                    r.project, next(self._nmsg), os.urandom(8).hex())}
        elif r.kind == "oauth" and status == 200 and body is None:
            status, body = self._issue_token(r)
        elif r.kind == "other" and st[0] == "ok":
            status, body = 404, b"not found\n"
            headers.append(("content-type", "text/plain"))
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.append(("content-type", "application/json; charset=UTF-8"))
        elif isinstance(body, str):
            body = body.encode()
        elif body is None:
            body = b""
        for k, v in extra.items():
            headers = [(hk, hv) for hk, hv in headers if hk != k.lower()]
            headers.append((k.lower(), str(v)))
        return status, body, headers

    def _issue_token(self, r):
        form = r.form or {}
        if form.get("grant_type") != JWT_BEARER or not form.get("assertion"):
            return 400, {"error": "invalid_grant",
                         "error_description": "bad grant_type or missing assertion"}
        with self._cond:
            self._ntokens += 1
            tok = "ya29.fake-%d" % self._ntokens
            self._tokens[tok] = time.monotonic() + self.oauth_expires_in
        r.issued_token = tok
        return 200, {"access_token": tok, "expires_in": self.oauth_expires_in,
                     "token_type": "Bearer"}

    def _log_event(self, msg):
        if self.verbose:
            sys.stderr.write("fakepush: %s\n" % msg)

    def _log_exc(self, where):
        sys.stderr.write("fakepush: exception in %s:\n%s" % (where, traceback.format_exc()))
