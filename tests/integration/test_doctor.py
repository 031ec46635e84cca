"""`mqchat doctor`: a healthy stack (broker running with the config, users
created, a push config with a valid APNs key) passes with exit 0; each
breakage an operator meets gives its own FAIL line and a non-zero exit:
Redis down, the function library gone, a key prefix with no users while
another prefix has them, an APNs key the service user cannot read or that is
no key, per_listener_settings true, no max_packet_size."""
import os
import re
import subprocess
import unittest

import harness
from fakepush import make_apns_key
from harness import CLI, Stack, main

# The broker the harness starts gets what a production config needs too,
# so that the healthy stack is healthy for the doctor (the harness already
# writes max_packet_size).
EXTRA = "per_listener_settings false\n"
_write_conf = harness.Broker.write_conf


def _write_conf_extra(self):
    _write_conf(self)
    with open(self.conf_path, "a") as f:
        f.write(EXTRA)


harness.Broker.write_conf = _write_conf_extra


def doctor(conf, push=None):
    args = [CLI, "doctor", "--config", conf]
    if push:
        args += ["--push-config", push]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout


class DoctorTest(unittest.TestCase):
    def setUp(self):
        self.st = Stack()
        self.st.__enter__()
        self.addCleanup(self.st.close)
        self.st.add_user("alice", "pw-alice")
        # The packaged mqchat-push runs as mosquitto: let it reach the key.
        os.chmod(self.st.dir, 0o755)
        self.p8, _ = make_apns_key(self.st.dir)
        os.chmod(self.p8, 0o644)
        self.push = self.write("push.conf", "redis_url %s\napns_key_file %s\napns_key_id "
                               "ABCDE12345\napns_team_id TEAM123456\n" % (self.st.redis.url(),
                                                                          self.p8))

    def write(self, name, text):
        path = os.path.join(self.st.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def conf_with(self, *extra):
        """The running broker's config plus extra lines (later lines win)."""
        with open(self.st.broker.conf_path) as f:
            text = f.read()
        return self.write("doctor.conf", text + "".join(l + "\n" for l in extra))

    def assert_fails(self, conf, expect, push=None):
        rc, out = doctor(conf, push)
        self.assertNotEqual(rc, 0, out)
        fails = [l for l in out.splitlines() if l.startswith("FAIL: ")]
        self.assertTrue(any(expect in l for l in fails), out)
        return out

    def test_healthy_stack_passes(self):
        rc, out = doctor(self.st.broker.conf_path, self.push)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("FAIL", out)
        for line in ("ok: Redis version 7", "ok: function library mqchat_v2 loaded",
                     "ok: 1 users under key prefix 'mqchat:'", "ok: Redis appendonly yes",
                     "ok: apns_key_file is an EC P-256 key", "ok: push config",
                     "ok: store layout version 2"):
            self.assertIn(line, out)

    def test_store_needs_upgrade(self):
        self.st.redis.call("DEL", "mqchat:version")  # as a v1 store with users
        self.assert_fails(self.st.broker.conf_path, "run mqchat store upgrade")

    def test_redis_down(self):
        self.st.redis.stop()
        self.assert_fails(self.st.broker.conf_path,
                          "cannot reach Redis at 127.0.0.1:%d" % self.st.redis.port)

    def test_functions_missing(self):
        self.st.redis.call("FUNCTION", "DELETE", "mqchat_v2")
        self.assert_fails(self.st.broker.conf_path,
                          "function library mqchat_v2 is not loaded in Redis")

    def test_functions_of_another_build(self):
        self.st.redis.call("FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=mqchat_v2\nredis.register_function('x', "
                           "function() return 1 end)\n")
        self.assert_fails(self.st.broker.conf_path, "differs from this build's")

    def test_wrong_key_prefix(self):
        conf = self.conf_with("plugin_opt_key_prefix chat:")
        out = self.assert_fails(conf, "no users under key prefix 'chat:' but 1 under 'mqchat:'")
        self.assertIn("set plugin_opt_key_prefix mqchat:", out)

    def test_push_prefix_differs(self):
        push = self.write("push2.conf", "redis_url %s\nkey_prefix other:\n" % self.st.redis.url())
        self.assert_fails(self.st.broker.conf_path, "differs from plugin_opt_key_prefix", push)

    def test_unreadable_apns_key(self):
        os.chmod(self.p8, 0o600 if os.geteuid() == 0 else 0)
        self.assert_fails(self.st.broker.conf_path, "apns_key_file '%s'" % self.p8, self.push)
        os.chmod(self.p8, 0o644)
        with open(self.p8, "w") as f:
            f.write("not a key\n")
        self.assert_fails(self.st.broker.conf_path, "is not an EC P-256 private key", self.push)
        os.unlink(self.p8)
        self.assert_fails(self.st.broker.conf_path, "cannot read apns_key_file", self.push)

    def test_broker_settings(self):
        self.assert_fails(self.conf_with("per_listener_settings true"),
                          "per_listener_settings is true")
        with open(self.st.broker.conf_path) as f:
            text = re.sub(r"(?m)^max_packet_size .*\n", "", f.read())
        self.assert_fails(self.write("nomax.conf", text), "max_packet_size is not set")
        self.assert_fails(self.conf_with("plugin_opt_max_message_bytes 1000000"),
                          "max_packet_size %d is below" % harness.max_packet_size(None))
        self.assert_fails(self.conf_with("plugin_opt_redis_port 99999"),
                          "plugin_opt_redis_port: '99999'")

    def test_websockets_listener_address(self):
        # 2.0.11 binds a WebSockets listener's IPv4 address only with
        # socket_domain ipv4 (as make run writes it; test_run checks the
        # socket): without it the address is ignored.
        self.assert_fails(self.conf_with("listener 18080 127.0.0.1", "protocol websockets"),
                          "websockets listener 18080 is bound to 127.0.0.1")
        rc, out = doctor(self.conf_with("listener 18080 127.0.0.1", "socket_domain ipv4",
                                        "protocol websockets"))
        self.assertEqual(rc, 0, out)
        self.assertIn("ok: websockets listener 18080 bound to 127.0.0.1 (socket_domain ipv4)", out)

    def test_attachment_store(self):
        rc, out = doctor(self.st.broker.conf_path)
        self.assertIn("ok: attachments off (no plugin_opt_s3_endpoint)", out)
        secret = self.write("s3.secret", "")
        os.chmod(secret, 0o644)
        s3 = ("plugin_opt_s3_endpoint http://127.0.0.1:9000", "plugin_opt_s3_bucket chat-files",
              "plugin_opt_s3_access_key AK", "plugin_opt_s3_secret_key_file " + secret)
        self.assert_fails(self.conf_with(*s3), "s3 secret key file '%s' is empty" % secret)
        self.assert_fails(self.conf_with(*s3[:3]), "plugin_opt_s3_secret_key_file: missing")
        with open(secret, "w") as f:
            f.write("sekrit\n")
        rc, out = doctor(self.conf_with(*s3, "plugin_opt_s3_path_style true"))
        self.assertIn("ok: attachments in http://127.0.0.1:9000 (bucket chat-files, path-style",
                      out)
        self.assertNotIn("sekrit", out)

    def test_include_dir_followed(self):
        inc = os.path.join(self.st.dir, "conf.d")
        os.mkdir(inc)
        with open(os.path.join(inc, "b.conf"), "w") as f:
            f.write("per_listener_settings true\n")
        with open(os.path.join(inc, "a.txt"), "w") as f:
            f.write("per_listener_settings false\n")  # not *.conf: ignored
        self.assert_fails(self.conf_with("include_dir " + inc), "per_listener_settings is true")


if __name__ == "__main__":
    main()
