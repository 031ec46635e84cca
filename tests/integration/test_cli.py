"""The mqchat admin commands against a real Redis: what they store, and the
clear errors and exit codes for bad input."""
import subprocess
import unittest

from harness import CLI, Stack, main


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.stack.redis.port)] + list(args),
                              capture_output=True, text=True, timeout=10).stdout.strip()

    def test_add_list_del(self):
        cli = self.stack.cli
        self.assertEqual(cli("user", "add", "zed", "--password-stdin", input="pw1\n").returncode,
                         0)
        self.assertEqual(cli("user", "add", "amy", "--password-stdin", input="pw2\n").returncode,
                         0)
        listed = cli("user", "list").stdout.split()
        self.assertLess(listed.index("amy"), listed.index("zed"))
        r = cli("user", "del", "zed")
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("zed", cli("user", "list").stdout.split())

    def test_password_stored_as_argon2id_never_clear(self):
        self.stack.cli("user", "add", "hash1", "--password-stdin", input="sup3r-secret\n")
        stored = self.redis("HGET", "mqchat:{u:hash1}:user", "pw")
        self.assertTrue(stored.startswith("$argon2id$"), stored)
        self.assertNotIn("sup3r-secret", stored)
        dump = self.redis("--scan")
        for key in dump.split():
            self.assertNotIn("sup3r-secret", key)

    def test_invalid_names_refused(self):
        for name in ("a/b", "a+b", "#", "", "x" * 65, "sp ace"):
            r = self.stack.cli("user", "add", name, "--password-stdin", input="pw\n")
            self.assertNotEqual(r.returncode, 0, name)
            self.assertIn("invalid user name", r.stderr)

    def test_duplicate_add_refused(self):
        self.stack.cli("user", "add", "dup", "--password-stdin", input="pw\n")
        r = self.stack.cli("user", "add", "dup", "--password-stdin", input="other\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)

    def test_missing_password_or_flag(self):
        r = self.stack.cli("user", "add", "nopw", "--password-stdin", input="")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no password", r.stderr)
        r = self.stack.cli("user", "add", "nopw", "--password-stdin", input="\n")
        self.assertIn("empty password", r.stderr)
        r = self.stack.cli("user", "add", "nopw")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)

    def test_del_unknown(self):
        r = self.stack.cli("user", "del", "ghost")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user", r.stderr)

    def test_bad_url_and_unreachable_redis(self):
        # A bad URL is a usage error: exit 2, said on stderr, the URL (which
        # may hold a password) not echoed; an unreachable Redis is a runtime
        # failure: exit 1.
        for args in (["--redis", "http://x", "user", "list"],
                     ["--redis", "redis://:s3cret@host:notaport/0", "user", "del", "x"],
                     ["--redis", "nonsense", "broadcast", "--text", "hi"],
                     # given explicitly, it is refused even by a command
                     # that does not use Redis
                     ["--redis", "http://x", "chat", "--user", "a"]):
            r = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("bad Redis URL in --redis", r.stderr)
            self.assertNotIn("s3cret", r.stderr)
            self.assertEqual(r.stdout, "")
        import os
        env = dict(os.environ, MQCHAT_REDIS="http://x")
        r = subprocess.run([CLI, "user", "list"], capture_output=True, text=True, timeout=30,
                           env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad Redis URL in $MQCHAT_REDIS", r.stderr)
        r = subprocess.run([CLI, "--redis", "redis://:s3cret@127.0.0.1:1/0", "user", "list"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot reach Redis at 127.0.0.1:1", r.stderr)
        self.assertNotIn("s3cret", r.stderr)

    def test_usage_errors_exit_2(self):
        for args in ([], ["--bogus"], ["--redis"], ["frobnicate"], ["user"],
                     ["user", "list", "extra"], ["user", "del"],
                     ["broadcast"], ["broadcast", "--text", ""]):
            r = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.strip(), args)

    def test_env_url(self):
        import os
        env = dict(os.environ, MQCHAT_REDIS=self.stack.redis.url())
        subprocess.run([CLI, "user", "add", "envy", "--password-stdin"], input="pw\n",
                       env=env, capture_output=True, text=True, timeout=30, check=True)
        r = subprocess.run([CLI, "user", "list"], env=env, capture_output=True, text=True,
                           timeout=30)
        self.assertIn("envy", r.stdout.split())


if __name__ == "__main__":
    main()
